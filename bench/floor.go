package main

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// floorScenarios measures each peer's round-trip floor on this machine:
// Redis's PING and a GET of a short string, and PostgreSQL's SELECT 1,
// prepared. No brief from a server can be faster than its floor; how far
// above it a peer's brief lies is its own work. A peer whose scenario runs
// measures its floor there, right before its briefs, on the same
// connections (redisRun, postgresRun); this measures the others', as for
// -only floor.
func floorScenarios(ctx context.Context, cfg *config, rep *report) {
	if !cfg.want("redis") {
		floorRedis(ctx, cfg, rep)
	}
	if !cfg.want("postgres") {
		floorPostgres(ctx, cfg, rep)
	}
}

func floorRedis(ctx context.Context, cfg *config, rep *report) {
	rdb := redisClient(cfg)
	defer rdb.Close()
	if err := redisUp(ctx, rdb); err != nil {
		rep.add(&result{Name: "redis PING (floor)", System: "redis", Op: "floor-ping", Skipped: "not run: no Redis at " + cfg.redis})
	} else if err := redisFloors(ctx, cfg, rdb, rep); err != nil {
		rep.add(&result{Name: "redis floor", System: "redis", Op: "floor-get", Skipped: "failed: " + err.Error()})
	}
}

func floorPostgres(ctx context.Context, cfg *config, rep *report) {
	pool, err := pgPool(ctx, cfg, true)
	if err != nil {
		rep.add(&result{Name: "postgres SELECT 1 (floor)", System: "postgres", Op: "floor-select1", Skipped: "not run: no PostgreSQL at " + cfg.postgres})
		return
	}
	defer pool.Close()
	if err := pgFloor(ctx, cfg, pool, rep); err != nil {
		rep.add(&result{Name: "postgres SELECT 1 (floor)", System: "postgres", Op: "floor-select1", Skipped: "failed: " + err.Error()})
	}
}

func redisFloors(ctx context.Context, cfg *config, rdb *redis.Client, rep *report) error {
	if err := cfg.measure(rep, "redis PING (floor)", "redis", "floor-ping", 1, 0, func(int, int64) error {
		return rdb.Ping(ctx).Err()
	}); err != nil {
		return err
	}
	const key = "bench:floor"
	if err := rdb.Set(ctx, key, "customer", 0).Err(); err != nil {
		return err
	}
	return cfg.measure(rep, "redis GET (floor)", "redis", "floor-get", 1, 0, func(int, int64) error {
		return rdb.Get(ctx, key).Err()
	})
}

func pgFloor(ctx context.Context, cfg *config, pool *pgxpool.Pool, rep *report) error {
	return cfg.measure(rep, "postgres SELECT 1 (floor)", "postgres", "floor-select1", 1, 0, func(int, int64) error {
		var one int
		return pool.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
}
