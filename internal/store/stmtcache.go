package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"

	"modernc.org/sqlite"
)

// The SQLite driver prepares (parses and plans) every statement it is
// given and finalizes it after one use; database/sql caches nothing either.
// Profiles of webhook intake showed half of the CPU time in SQLite's parser:
// River's job statements are long, and on SQLite its completer runs one
// UPDATE per finished job. stmtCacheConnector keeps each connection's
// prepared statements by query text (LRU, stmtCacheSize) and reuses them,
// for hoist's own queries and River's alike, since River is handed the same
// *sql.DB. Wrappers such as those that cache on *sql.DB do not reach
// River's calls, hence this small one at the driver level. A statement is
// reused only while no result set of it is open; a nested use of the same
// text gets a fresh, uncached statement.
const stmtCacheSize = 256

type stmtCacheConnector struct {
	dsn string
	drv *sqlite.Driver
}

func (c *stmtCacheConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConn{conn: conn, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

func (c *stmtCacheConnector) Driver() driver.Driver { return c.drv }

// innerConn is what the SQLite driver's connection implements.
type innerConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time: database/sql serialises
// every call on a driver connection, Rows included.
type cachingConn struct {
	conn    driver.Conn
	byQuery map[string]*list.Element // of *cachedStmt
	lru     *list.List               // front: most recently used
}

type cachedStmt struct {
	query   string
	stmt    driver.Stmt
	busy    bool // a result set is open
	evicted bool // close when the result set closes
}

func (c *cachingConn) inner() innerConn { return c.conn.(innerConn) }

// lookup returns a cached, idle statement for query, preparing and caching
// it on first use; nil (no error) when the cached one is busy.
func (c *cachingConn) lookup(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byQuery[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	st, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Back()
		ocs := old.Value.(*cachedStmt)
		c.lru.Remove(old)
		delete(c.byQuery, ocs.query)
		if ocs.busy {
			ocs.evicted = true
		} else {
			_ = ocs.stmt.Close()
		}
	}
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.lookup(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.lookup(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.inner().BeginTx(context.Background(), driver.TxOptions{})
}
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}
func (c *cachingConn) Ping(ctx context.Context) error         { return c.inner().Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.inner().IsValid() }

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for el := c.lru.Front(); el != nil; el = el.Next() {
		errs = append(errs, el.Value.(*cachedStmt).stmt.Close())
	}
	c.lru.Init()
	clear(c.byQuery)
	errs = append(errs, c.conn.Close())
	return errors.Join(errs...)
}

// cachedRows frees its statement for reuse when closed. It passes on the
// column type methods of the driver's rows (database/sql's ColumnTypes).
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if r.cs.evicted {
		if cerr := r.cs.stmt.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}
