package kinesisapi

import (
	"fmt"
	"os"
	"sync"
	"time"
)

var dbgMu sync.Mutex
var dbgT [4]time.Duration
var dbgN int
var dbgP time.Time

func dbgAdd(t0, t1, t2, t3, t4 time.Time) {
	if os.Getenv("SLUICE_DBG") == "" {
		return
	}
	dbgMu.Lock()
	defer dbgMu.Unlock()
	dbgT[0] += t1.Sub(t0)
	dbgT[1] += t2.Sub(t1)
	dbgT[2] += t3.Sub(t2)
	dbgT[3] += t4.Sub(t3)
	dbgN++
	if time.Since(dbgP) > time.Second {
		d := time.Duration(dbgN)
		fmt.Fprintf(os.Stderr, "n=%d readbody=%v decode=%v engine=%v reply=%v\n", dbgN, dbgT[0]/d, dbgT[1]/d, dbgT[2]/d, dbgT[3]/d)
		dbgT = [4]time.Duration{}
		dbgN = 0
		dbgP = time.Now()
	}
}
