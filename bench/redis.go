package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/herken/herken/memory"
)

// Redis, as a skilled user would keep customers there (see peer.go): a
// hash per customer, c:<n>, with the document in field d and the newest
// contact of each channel in a field l:<channel>; the timeline in a list,
// k:<n>; and a key per identifier, i:<kind>:<value>, holding <n>. Each
// operation is one round trip, EVALSHA of a Lua script loaded once
// (go-redis's Script sends EVAL only when the server answers NOSCRIPT).
// The brief's script reads a key it derives, c:<n>, which one server
// allows; on a cluster the customer's keys would share a hash tag.
const (
	// redisBriefLua reads the identifier and the customer's hash: a brief,
	// or nil for an unknown identifier.
	redisBriefLua = `local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('HGETALL', 'c:' .. id)`
	// redisContactLua appends a contact to the timeline, keeps its newest
	// 256, and makes it the channel's newest.
	redisContactLua = `redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -256, -1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`
)

var (
	redisBrief   = redis.NewScript(redisBriefLua)
	redisContact = redis.NewScript(redisContactLua)
)

// redisPath is the code path the report shows for Redis.
func redisPath() string {
	return "brief and miss: one round trip, EVALSHA " + redisBrief.Hash() + " 1 i:email:<address>, of\n" + indent(redisBriefLua) +
		"then the document and each l:<channel> value decoded from msgpack, expired facts left out, last contacts sorted newest first, negatives in the at-risk window counted.\n" +
		"record-contact: one round trip, EVALSHA " + redisContact.Hash() + " 2 k:<n> c:<n> <contact in msgpack> l:chat, of\n" + indent(redisContactLua) +
		"sync writes on: appendonly yes, appendfsync always (the reply after the write reached the disk); off: appendfsync no.\n" +
		"floor: PING; GET of a short string (one round trip each, nothing to decode), right before the briefs, on the same connections."
}

func indent(code string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(code, "\n") {
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

func redisClient(cfg *config) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: cfg.redis, PoolSize: 4 * cfg.writers, DialTimeout: time.Second})
}

func redisUp(ctx context.Context, rdb *redis.Client) error {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return rdb.Ping(pctx).Err()
}

func redisScenarios(ctx context.Context, cfg *config, n int, rep *report) {
	skip := func(why string) {
		for _, op := range []string{"brief", "miss", "contact-sync writes off", "contact-sync writes on"} {
			rep.add(&result{Name: "redis " + op, System: "redis", Op: op, Skipped: why})
		}
	}
	rdb := redisClient(cfg)
	defer rdb.Close()
	if err := redisUp(ctx, rdb); err != nil {
		skip("not run: no Redis at " + cfg.redis + " (apt-get install redis-server; redis-server --port 6379 --save '' --dir /tmp)")
		return
	}
	rep.paths["redis"] = redisPath()
	if err := redisRun(ctx, cfg, rdb, n, rep); err != nil {
		skip("failed: " + err.Error())
	}
}

func redisRun(ctx context.Context, cfg *config, rdb *redis.Client, n int, rep *report) error {
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return err
	}
	bar := cfg.bar(n, fmt.Sprintf("redis: %d customers", n))
	const batch = 500
	for start := 0; start < n; start += batch {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(n, start+batch); i++ {
				c := generate(cfg.seed, i)
				doc, last, timeline := peerDocOf(c)
				key := "c:" + strconv.Itoa(i)
				fields := []any{"d", doc}
				for ch, b := range last {
					fields = append(fields, "l:"+string(ch), b)
				}
				p.HSet(ctx, key, fields...)
				if len(timeline) > 0 {
					items := make([]any, len(timeline))
					for k, b := range timeline {
						items[k] = b
					}
					p.RPush(ctx, "k:"+strconv.Itoa(i), items...)
				}
				for _, id := range c.ids {
					p.Set(ctx, "i:"+identKeyOf(id), i, 0)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		_ = bar.Add(min(batch, n-start))
	}
	_ = bar.Finish()
	if err := redisBrief.Load(ctx, rdb).Err(); err != nil {
		return err
	}
	if err := redisContact.Load(ctx, rdb).Err(); err != nil {
		return err
	}

	if cfg.want("floor") {
		if err := redisFloors(ctx, cfg, rdb, rep); err != nil {
			return err
		}
	}
	brief := func(email string) error {
		_, err := redisBriefOf(ctx, rdb, email, time.Now())
		return err
	}
	if err := cfg.measurePeerLookups(rep, "redis", n, brief); err != nil {
		return err
	}
	for _, sync := range []bool{false, true} {
		mode := "sync writes " + map[bool]string{false: "off", true: "on"}[sync]
		fsync := map[bool]string{false: "no", true: "always"}[sync]
		note := ""
		if err := rdb.ConfigSet(ctx, "appendonly", "yes").Err(); err != nil {
			note = "could not turn on the append-only file: " + err.Error()
		} else if err := rdb.ConfigSet(ctx, "appendfsync", fsync).Err(); err != nil {
			note = "could not set appendfsync: " + err.Error()
		}
		err := cfg.measure(rep, fmt.Sprintf("redis record-contact, %s, %d writers", mode, cfg.writers), "redis", "contact-"+mode, cfg.writers, 0, func(_ int, i int64) error {
			id := strconv.Itoa(int(uint64(i) * 2654435761 % uint64(n)))
			ct, err := msgpack.Marshal(&memory.Contact{Channel: memory.ChannelChat, At: time.Now().UTC(), Outcome: memory.OutcomeNeutral, Summary: "bench"})
			if err != nil {
				return err
			}
			return redisContact.Run(ctx, rdb, []string{"k:" + id, "c:" + id}, ct, "l:chat").Err()
		})
		if err != nil {
			return err
		}
		rep.last().Note = note
	}
	_ = rdb.ConfigSet(ctx, "appendfsync", "everysec").Err()
	return nil
}

// redisBriefOf is a brief from Redis: one EVALSHA, then the decoding.
func redisBriefOf(ctx context.Context, rdb *redis.Client, email string, now time.Time) (memory.Brief, error) {
	vals, err := redisBrief.Run(ctx, rdb, []string{"i:email:" + strings.ToLower(strings.TrimSpace(email))}).Slice()
	if errors.Is(err, redis.Nil) {
		return memory.Brief{}, memory.ErrNotFound
	}
	if err != nil {
		return memory.Brief{}, err
	}
	var doc []byte
	last := make([][]byte, 0, len(vals)/2)
	for k := 0; k+1 < len(vals); k += 2 {
		f, _ := vals[k].(string)
		v, _ := vals[k+1].(string)
		if f == "d" {
			doc = []byte(v)
		} else {
			last = append(last, []byte(v))
		}
	}
	if doc == nil {
		return memory.Brief{}, fmt.Errorf("redis: customer hash without its document")
	}
	return peerBrief(doc, last, now)
}
