package dynamoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluice-io/sluice/streamcore"
)

// On-disk layout, in the metadata store (streamcore.Store's Update/View transactions):
//
//	bucket "dynamodb.tables"            key "<account>/<region>/<table name>" → tableMeta JSON
//	bucket "dynamodb.items.<table id>"  key itemKey(hash[, range])            → item JSON
//
// The table id is a UUID chosen at CreateTable, so a table deleted and created again under
// the same name never sees the old items. Item JSON is DynamoDB's wire form of the item.
//
// Every table's items are also held in memory (tables stay small: leases, coordinator
// state, worker metrics); memory is authoritative for reads and for the read-check-write
// of conditional operations, which run under the table's lock. Writes are queued to one
// committer in the order they were applied; it commits whatever is queued in one Update
// (group commit: one fsync for many writes) and only then is the caller answered. Reads
// also wait until every write they could observe is durable, so no client ever sees a
// value that a crash could take back. A failed commit rolls memory back to the store.
const (
	tablesBucket      = "dynamodb.tables"
	itemsBucketPrefix = "dynamodb.items."
)

// maxTotalBytes bounds the memory all tables' items take (item sizes as DynamoDB counts them).
const maxTotalBytes = 512 << 20

type keyElem struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attrDef struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type projection struct {
	ProjectionType   string   `json:"ProjectionType,omitempty"`
	NonKeyAttributes []string `json:"NonKeyAttributes,omitempty"`
}

type throughput struct {
	ReadCapacityUnits  int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits int64 `json:"WriteCapacityUnits"`
}

type gsiMeta struct {
	IndexName  string      `json:"IndexName"`
	KeySchema  []keyElem   `json:"KeySchema"`
	Projection projection  `json:"Projection"`
	Throughput *throughput `json:"ProvisionedThroughput,omitempty"`
	CreatedMs  int64       `json:"CreatedMs"`
}

// tableMeta is what the store keeps of a table.
type tableMeta struct {
	ID                 string            `json:"Id"`
	Name               string            `json:"Name"`
	Account            string            `json:"Account"`
	Region             string            `json:"Region"`
	KeySchema          []keyElem         `json:"KeySchema"`
	AttributeDefs      []attrDef         `json:"AttributeDefinitions"`
	GSIs               []gsiMeta         `json:"GlobalSecondaryIndexes,omitempty"`
	BillingMode        string            `json:"BillingMode"`
	Throughput         *throughput       `json:"ProvisionedThroughput,omitempty"`
	Tags               map[string]string `json:"Tags,omitempty"`
	DeletionProtection bool              `json:"DeletionProtectionEnabled,omitempty"`
	PITR               bool              `json:"PointInTimeRecovery,omitempty"`
	PITRSinceMs        int64             `json:"PointInTimeRecoverySinceMs,omitempty"`
	CreatedMs          int64             `json:"CreatedMs"`
	UpdatedMs          int64             `json:"UpdatedMs,omitempty"`
	TTLAttribute       string            `json:"TimeToLiveAttribute,omitempty"`
}

func (m *tableMeta) arn() string {
	return "arn:aws:dynamodb:" + m.Region + ":" + m.Account + ":table/" + m.Name
}

func (m *tableMeta) storeKey() string { return m.Account + "/" + m.Region + "/" + m.Name }

func (m *tableMeta) hashKey() string { return m.KeySchema[0].AttributeName }

func (m *tableMeta) rangeKey() string {
	if len(m.KeySchema) > 1 {
		return m.KeySchema[1].AttributeName
	}
	return ""
}

func (m *tableMeta) attrType(name string) string {
	for _, d := range m.AttributeDefs {
		if d.AttributeName == name {
			return d.AttributeType
		}
	}
	return ""
}

func (m *tableMeta) gsi(name string) *gsiMeta {
	for i := range m.GSIs {
		if m.GSIs[i].IndexName == name {
			return &m.GSIs[i]
		}
	}
	return nil
}

// table is one table's metadata and items. mu guards everything below it.
type table struct {
	mu     sync.RWMutex
	meta   tableMeta
	items  map[string]Item
	bytes  int
	sorted []string // item keys in key order; nil when it must be rebuilt
	// sortMu guards rebuilding sorted under a read lock (writers clear it under mu).
	sortMu sync.Mutex
	// lastSeq is the commit sequence of the newest write applied to this table.
	lastSeq uint64
	gone    bool
}

// itemKey is the storage key of an item: its key values, type-tagged.
func itemKey(m *tableMeta, it Item) string {
	k := keyString(it[m.hashKey()])
	if r := m.rangeKey(); r != "" {
		k += "\x00" + keyString(it[r])
	}
	return k
}

// keyCmp orders two items of t by hash key then range key (numbers numerically).
func keyCmp(m *tableMeta, a, b Item) int {
	h := m.hashKey()
	if c := avOrder(a[h], b[h]); c != 0 {
		return c
	}
	if r := m.rangeKey(); r != "" {
		return avOrder(a[r], b[r])
	}
	return 0
}

func avOrder(a, b AV) int {
	if c, ok := compare(a, b); ok {
		return c
	}
	return strings.Compare(keyString(a), keyString(b))
}

// sortedKeys returns the item keys in key order (cached until the next insert/delete).
// Callers hold t.mu (read is enough: the cache is rebuilt under sortMu).
func (t *table) sortedKeys() []string {
	t.sortMu.Lock()
	defer t.sortMu.Unlock()
	if t.sorted != nil {
		return t.sorted
	}
	keys := make([]string, 0, len(t.items))
	for k := range t.items {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyCmp(&t.meta, t.items[keys[i]], t.items[keys[j]]) < 0 })
	t.sorted = keys
	return keys
}

// DB is the set of tables over a metadata store. Safe for concurrent use.
type DB struct {
	store streamcore.Store

	mu     sync.RWMutex
	tables map[string]*table // by tableMeta.storeKey()
	total  atomic.Int64      // bytes of every table's items

	c committer
}

// OpenDB loads every table from store and starts the committer. Close stops it.
func OpenDB(ctx context.Context, store streamcore.Store) (*DB, error) {
	db := &DB{store: store, tables: map[string]*table{}}
	if err := db.load(ctx); err != nil {
		return nil, err
	}
	db.c.start(db)
	return db, nil
}

func (db *DB) load(ctx context.Context) error {
	tables := map[string]*table{}
	total := 0
	err := db.store.View(ctx, func(tx streamcore.MetaTx) error {
		return tx.ForEach(tablesBucket, func(key string, value []byte) error {
			t := &table{items: map[string]Item{}}
			if err := json.Unmarshal(value, &t.meta); err != nil {
				return fmt.Errorf("dynamodb: table %s: %w", key, err)
			}
			err := tx.ForEach(itemsBucketPrefix+t.meta.ID, func(k string, v []byte) error {
				var it Item
				if err := json.Unmarshal(v, &it); err != nil {
					return fmt.Errorf("dynamodb: table %s item: %w", key, err)
				}
				t.items[k] = it
				t.bytes += it.size()
				return nil
			})
			if err != nil {
				return err
			}
			total += t.bytes
			tables[key] = t
			return nil
		})
	})
	if err != nil {
		return err
	}
	db.tables = tables
	db.total.Store(int64(total))
	return nil
}

// Close stops the committer after the queued writes are committed.
func (db *DB) Close() { db.c.stop() }

func (db *DB) table(account, region, name string) *table {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.tables[account+"/"+region+"/"+name]
}

// pending is one queued write.
type pending struct {
	seq  uint64
	fn   func(tx streamcore.MetaTx) error
	done chan error
}

// committer commits queued writes in order, many per metadata transaction.
type committer struct {
	db      *DB
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*pending
	next    uint64 // last assigned sequence
	durable uint64 // every write up to here is resolved (committed, or failed and rolled back)
	epoch   uint64 // incremented by each rollback
	closed  bool
	// commits and writes count metadata transactions and the writes they carried.
	commits, writes atomic.Int64
	wake            chan struct{}
	stopped         chan struct{}
}

func (c *committer) start(db *DB) {
	c.db = db
	c.cond = sync.NewCond(&c.mu)
	c.wake = make(chan struct{}, 1)
	c.stopped = make(chan struct{})
	go c.loop()
}

func (c *committer) stop() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
}

// enqueue queues fn; the caller holds the lock of the table it changed, so queue order
// is the order writes were applied in memory. It never blocks.
func (c *committer) enqueue(fn func(tx streamcore.MetaTx) error) *pending {
	c.mu.Lock()
	c.next++
	p := &pending{seq: c.next, fn: fn, done: make(chan error, 1)}
	if c.closed {
		p.done <- errClosed
	} else {
		c.queue = append(c.queue, p)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return p
}

var errClosed = fmt.Errorf("dynamodb: the table store is closed")

// waitDurable blocks until every write up to seq is resolved and reports whether
// memory was rolled back since epoch.
func (c *committer) waitDurable(seq, epoch uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.durable < seq {
		c.cond.Wait()
	}
	return c.epoch == epoch
}

func (c *committer) currentEpoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

const maxBatch = 512

func (c *committer) loop() {
	defer close(c.stopped)
	for {
		c.mu.Lock()
		for len(c.queue) == 0 {
			if c.closed {
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			<-c.wake
			c.mu.Lock()
		}
		n := min(len(c.queue), maxBatch)
		batch := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.mu.Unlock()

		c.commits.Add(1)
		c.writes.Add(int64(len(batch)))
		err := c.db.store.Update(context.Background(), func(tx streamcore.MetaTx) error {
			for _, p := range batch {
				if err := p.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			c.rollback(batch, err)
			continue
		}
		c.mu.Lock()
		c.durable = batch[len(batch)-1].seq
		c.cond.Broadcast()
		c.mu.Unlock()
		for _, p := range batch {
			p.done <- nil
		}
	}
}

// rollback fails batch and everything queued after it and reloads memory from the
// store, holding every table lock so that no write is applied meanwhile.
func (c *committer) rollback(batch []*pending, err error) {
	db := c.db
	db.mu.Lock()
	ts := make([]*table, 0, len(db.tables))
	for _, t := range db.tables {
		ts = append(ts, t)
	}
	for _, t := range ts {
		t.mu.Lock()
	}
	c.mu.Lock()
	failed := append(batch, c.queue...)
	c.queue = nil
	last := c.next
	c.mu.Unlock()

	lerr := db.load(context.Background())
	for _, t := range ts {
		t.gone = true // callers holding a *table re-resolve it
		t.mu.Unlock()
	}
	db.mu.Unlock()
	if lerr != nil {
		err = fmt.Errorf("%w (and reloading the tables failed: %v)", err, lerr)
	}
	c.mu.Lock()
	c.durable = last
	c.epoch++
	c.cond.Broadcast()
	c.mu.Unlock()
	for _, p := range failed {
		p.done <- err
	}
}
