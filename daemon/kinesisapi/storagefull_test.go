package kinesisapi

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/sluice-io/sluice/streamcore"
)

// A storage failure caused by a full disk is the one InternalFailure whose message the
// client sees (it names the cause, not a path); any other keeps the bare reply.
func TestStorageFullIsNamed(t *testing.T) {
	full := &streamcore.Error{Code: streamcore.CodeInternal, Msg: streamcore.MsgStorageFull,
		Err: fmt.Errorf("filestore: log %q: append: %w", "x", syscall.ENOSPC)}
	other := &streamcore.Error{Code: streamcore.CodeInternal, Msg: "Internal service failure.", Err: errors.New("disk on fire /secret/path")}

	if e := engErr(full); e.Status != 500 || e.Type != "InternalFailure" || e.Message != streamcore.MsgStorageFull {
		t.Fatalf("engErr(full disk) = %d %s %q", e.Status, e.Type, e.Message)
	}
	if e := engErr(other); e.Status != 500 || e.Message != "" {
		t.Fatalf("engErr(other storage failure) = %d %s %q, want the bare InternalFailure", e.Status, e.Type, e.Message)
	}
	if code, msg := resultError(full); code != "InternalFailure" || msg != streamcore.MsgStorageFull {
		t.Fatalf("resultError(full disk) = %s %q", code, msg)
	}
	if code, msg := resultError(other); code != "InternalFailure" || msg != "Internal service failure." {
		t.Fatalf("resultError(other) = %s %q", code, msg)
	}
}
