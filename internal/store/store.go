// Package store is hoist's database: SQLite by default (one file in the data
// dir, pure Go), PostgreSQL when several replicas share state. It owns the
// schema (versioned, embedded migrations applied at start), the deliveries
// table that makes webhook intake durable and idempotent, and the audit log.
//
// Queries are written once with ? placeholders and rebound to $n for
// PostgreSQL. Both dialects hand out the same Tx so that a store write and a
// job insert (internal/jobs) commit together.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"modernc.org/sqlite"
)

// Dialect is the database flavour behind a Store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options say which database to open.
type Options struct {
	// DatabaseURL is empty for SQLite or a postgres:// URL.
	DatabaseURL string
	// SQLitePath is the database file used when DatabaseURL is empty.
	SQLitePath string
	Logger     zerolog.Logger
	// AlsoMigrate runs after hoist's own migrations and under the same
	// lock, so that replicas starting together on an empty database apply
	// every schema exactly once (the job queue's: jobs.Migrate).
	AlsoMigrate func(ctx context.Context, s *Store) error
	// ServeAlone makes this process the only one serving a SQLite
	// database (hoist serve), until Close; see serveAlone.
	ServeAlone bool
}

// Store is an open database with hoist's schema applied.
type Store struct {
	dialect Dialect
	path    string        // SQLite file
	db      *sql.DB       // SQLite
	pool    *pgxpool.Pool // PostgreSQL
	log     zerolog.Logger
	now     func() time.Time
	// unlock releases the lock of ServeAlone.
	unlock func()
}

// Open connects, configures the pool and applies pending migrations.
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{log: opts.Logger, now: func() time.Time { return time.Now().UTC() }}
	if opts.DatabaseURL == "" {
		if err := s.openSQLite(opts.SQLitePath); err != nil {
			return nil, err
		}
		if opts.ServeAlone {
			if err := s.serveAlone(); err != nil {
				s.Close()
				return nil, err
			}
		}
	} else {
		if err := s.openPostgres(ctx, opts.DatabaseURL); err != nil {
			return nil, err
		}
	}
	err := s.WithMigrationLock(ctx, func(ctx context.Context) error {
		if err := s.migrate(ctx); err != nil {
			return err
		}
		if opts.AlsoMigrate != nil {
			return opts.AlsoMigrate(ctx, s)
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(path string) error {
	if path == "" {
		return errors.New("store: no SQLite path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("store: create data dir: %w", err)
	}
	// WAL lets readers run beside the writer; synchronous=NORMAL in WAL mode
	// is durable against a process crash (the case intake must survive) and
	// only risks the last commits on power loss, which GitHub's redelivery
	// covers. busy_timeout waits for the lock instead of failing, and
	// _txlock=immediate takes the write lock at BEGIN so two transactions
	// never deadlock upgrading a read lock.
	// busy_timeout comes first so that switching to WAL, which needs an
	// exclusive lock, waits for another process opening the same file.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(ON)&_txlock=immediate"
	db := sql.OpenDB(&stmtCacheConnector{dsn: dsn, drv: &sqlite.Driver{}})
	// SQLite has one writer at a time. One connection serialises writers in
	// Go instead of in busy loops, which is what River's SQLite driver
	// recommends too; every statement is short, so readers queue briefly.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	s.dialect, s.db, s.path = SQLite, db, path
	return nil
}

func (s *Store) openPostgres(ctx context.Context, url string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL with its password; keep our own.
		return errors.New("store: HOIST_DATABASE_URL is not a valid PostgreSQL URL")
	}
	if cfg.MaxConns < 10 {
		cfg.MaxConns = 10
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: connect to PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return fmt.Errorf("store: connect to PostgreSQL at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	s.dialect, s.pool = Postgres, pool
	return nil
}

// Logger is the logger the store was opened with.
func (s *Store) Logger() zerolog.Logger { return s.log }

// Dialect says which database this is.
func (s *Store) Dialect() Dialect { return s.dialect }

// SQLDB is the SQLite pool (nil for PostgreSQL); the jobs engine shares it.
func (s *Store) SQLDB() *sql.DB { return s.db }

// PgxPool is the PostgreSQL pool (nil for SQLite); the jobs engine shares it.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pool }

// Close releases the connections.
func (s *Store) Close() {
	if s.db != nil {
		s.db.Close()
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if s.db != nil {
		return s.db.PingContext(ctx)
	}
	return s.pool.Ping(ctx)
}

// Querier is what both a Store and a Tx can run statements on.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Tx is a transaction on either dialect. Native returns the driver's own
// transaction (*sql.Tx or pgx.Tx) for libraries such as River that need it.
type Tx interface {
	Querier
	Dialect() Dialect
	Native() any
}

// Row is one result row.
type Row interface{ Scan(dest ...any) error }

// Rows is a result set; always Close it.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// InTx runs fn in a transaction and commits it when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx Tx) error) error {
	if s.db != nil {
		stx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: begin: %w", err)
		}
		// A panic in fn must not leave the transaction open: with one
		// SQLite connection that would stop every later write.
		defer func() {
			if r := recover(); r != nil {
				_ = stx.Rollback()
				panic(r)
			}
		}()
		if err := fn(sqlTx{stx}); err != nil {
			_ = stx.Rollback()
			return err
		}
		if err := stx.Commit(); err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		return nil
	}
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() {
		if r := recover(); r != nil {
			_ = ptx.Rollback(context.WithoutCancel(ctx))
			panic(r)
		}
	}()
	if err := fn(pgxTx{ptx}); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// WrapTx adapts a driver transaction (*sql.Tx or pgx.Tx) that someone else
// began, e.g. River inside a worker, so store methods can write in it.
func WrapTx(native any) (Tx, error) {
	switch t := native.(type) {
	case *sql.Tx:
		return sqlTx{t}, nil
	case pgx.Tx:
		return pgxTx{t}, nil
	}
	return nil, fmt.Errorf("store: cannot use %T as a transaction", native)
}

// Exec, QueryRow and Query run outside any transaction.
func (s *Store) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if s.db != nil {
		return sqlTx{}.execOn(ctx, s.db, q, args)
	}
	tag, err := s.pool.Exec(ctx, rebind(q), args...)
	return tag.RowsAffected(), err
}

func (s *Store) QueryRow(ctx context.Context, q string, args ...any) Row {
	if s.db != nil {
		return s.db.QueryRowContext(ctx, q, args...)
	}
	return s.pool.QueryRow(ctx, rebind(q), args...)
}

func (s *Store) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	if s.db != nil {
		r, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		return sqlRows{r}, nil
	}
	r, err := s.pool.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}

type sqlTx struct{ tx *sql.Tx }

func (sqlTx) execOn(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, q string, args []any) (int64, error) {
	res, err := db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t sqlTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return t.execOn(ctx, t.tx, q, args)
}
func (t sqlTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return t.tx.QueryRowContext(ctx, q, args...)
}
func (t sqlTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	r, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}
func (sqlTx) Dialect() Dialect { return SQLite }
func (t sqlTx) Native() any    { return t.tx }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

type pgxTx struct{ tx pgx.Tx }

func (t pgxTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, rebind(q), args...)
	return tag.RowsAffected(), err
}
func (t pgxTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	return t.tx.QueryRow(ctx, rebind(q), args...)
}
func (t pgxTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	r, err := t.tx.Query(ctx, rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return pgxRows{r}, nil
}
func (pgxTx) Dialect() Dialect { return Postgres }
func (t pgxTx) Native() any    { return t.tx }

type pgxRows struct{ pgx.Rows }

func (r pgxRows) Close() { r.Rows.Close() }

// rebind turns ? placeholders into PostgreSQL's $1, $2, …. hoist's queries
// never contain a literal question mark, so a plain scan is enough.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

//go:embed migrations
var migrationFS embed.FS

// migrate applies, in order and each in its own transaction, the embedded
// migrations of this dialect that schema_migrations does not list yet.
func (s *Store) migrate(ctx context.Context) error {
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	create := `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)`
	if s.dialect == Postgres {
		create = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`
	}
	if _, err := s.Exec(ctx, create); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("store: migration %s: name must start with a number", name)
		}
		body, err := migrationFS.ReadFile(dir + "/" + name)
		if err != nil {
			return err
		}
		// The caller holds the migration lock: a replica that waited for
		// it sees the version applied and skips it.
		err = s.InTx(ctx, func(tx Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := execScript(ctx, tx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, version, name, s.now())
			if err == nil {
				s.log.Info().Str("migration", name).Msg("applied database migration")
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", name, err)
		}
	}
	return nil
}

// execScript runs a migration file statement by statement (the SQLite
// driver runs only one statement per Exec). Statements end with ";" at the
// end of a line; comments are dropped.
func execScript(ctx context.Context, tx Tx, script string) error {
	var stmt strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			if _, err := tx.Exec(ctx, stmt.String()); err != nil {
				return fmt.Errorf("%w in %q", err, strings.TrimSpace(stmt.String()))
			}
			stmt.Reset()
		}
	}
	if strings.TrimSpace(stmt.String()) != "" {
		if _, err := tx.Exec(ctx, stmt.String()); err != nil {
			return err
		}
	}
	return nil
}
