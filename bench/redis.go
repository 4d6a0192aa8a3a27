package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/herken/herken/memory"
)

// Redis, as a user would keep customers there: a hash per customer
// (c:<n>, field doc and a field last:<channel> per channel), a list of
// contacts (k:<n>), and a key per identifier (i:<kind>:<value>). A lookup is
// one round trip: a script reads the identifier and the hash.
var redisLookup = redis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('HGETALL', 'c:' .. id)`)

func redisScenarios(ctx context.Context, cfg *config, n int, rep *report) {
	skip := func(why string) {
		for _, op := range []string{"brief", "miss", "contact-sync writes off", "contact-sync writes on"} {
			rep.add(&result{Name: "redis " + op, System: "redis", Op: op, Skipped: why})
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: cfg.redis, PoolSize: 4 * cfg.writers, DialTimeout: time.Second})
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		skip("not run: no Redis at " + cfg.redis + " (apt-get install redis-server; redis-server --port 6379 --save '')")
		return
	}
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
				profile, last, timeline := docOf(c)
				key := "c:" + strconv.Itoa(i)
				fields := []any{"doc", profile}
				for ch, b := range last {
					fields = append(fields, "last:"+ch, b)
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

	brief := func(email string) error {
		vals, err := redisLookup.Run(ctx, rdb, []string{"i:email:" + strings.ToLower(strings.TrimSpace(email))}).StringSlice()
		if errors.Is(err, redis.Nil) {
			return memory.ErrNotFound
		}
		if err != nil {
			return err
		}
		var profile []byte
		last := map[string]string{}
		for k := 0; k+1 < len(vals); k += 2 {
			if vals[k] == "doc" {
				profile = []byte(vals[k+1])
			} else {
				last[strings.TrimPrefix(vals[k], "last:")] = vals[k+1]
			}
		}
		_, err = peerBrief(profile, last, time.Now())
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
			ct := `{"channel":"chat","at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","outcome":"neutral","summary":"bench"}`
			_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.RPush(ctx, "k:"+id, ct)
				p.LTrim(ctx, "k:"+id, -256, -1)
				p.HSet(ctx, "c:"+id, "last:chat", ct)
				return nil
			})
			return err
		})
		if err != nil {
			return err
		}
		rep.last().Note = note
	}
	_ = rdb.ConfigSet(ctx, "appendfsync", "everysec").Err()
	return nil
}
