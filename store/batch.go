package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Group commit for SQLite. The calls' wallet writes (holds, settlements, releases,
// request-log rows) are the store's hot path, and on SQLite's single writer each one
// used to pay a whole commit. The batcher runs every write that is waiting in one
// transaction and one commit; each write sits in its own savepoint, so a refusal
// (no credit, a hold already settled) undoes only its own partial work. A caller
// still returns only after the commit that holds its write, so nothing a client was
// told is lost to a crash.
//
// PostgreSQL keeps one transaction per write: several gateway nodes share it, and
// batches updating the same wallets in different orders could deadlock each other.

const maxBatch = 128

type batchOp struct {
	fn   func(tx *gorm.DB) error
	err  error
	done chan struct{}
}

type batcher struct {
	ops  chan *batchOp
	stop chan struct{}
	done chan struct{}
}

func (s *Store) startBatcher() {
	b := &batcher{ops: make(chan *batchOp, 4*maxBatch), stop: make(chan struct{}), done: make(chan struct{})}
	s.batch = b
	go s.runBatches(b)
}

func (s *Store) stopBatcher() {
	if s.batch != nil {
		close(s.batch.stop)
		<-s.batch.done
		s.batch = nil
	}
}

// walletTx runs fn as one of the calls' wallet writes: batched on SQLite, in its own
// transaction elsewhere. Business refusals come back as fn returned them.
func (s *Store) walletTx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.batch == nil {
		return s.tx(ctx, fn)
	}
	op := &batchOp{fn: fn, done: make(chan struct{})}
	select {
	case s.batch.ops <- op:
	case <-s.batch.stop:
		return fmt.Errorf("%w: store is closing", ErrUnavailable)
	case <-ctx.Done():
		return ctx.Err()
	}
	// Wait for the commit even if ctx ends: the write may already be in it.
	<-op.done
	return op.err
}

// refusal reports an error that is an answer about one write, not a fault of the
// database: it rolls back that write's savepoint and leaves the batch standing.
func refusal(err error) bool {
	return isDomainError(err) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

func (s *Store) runBatches(b *batcher) {
	defer close(b.done)
	for {
		var first *batchOp
		select {
		case first = <-b.ops:
		case <-b.stop:
			// Finish what was queued before the stop.
			for {
				select {
				case op := <-b.ops:
					s.commitBatch([]*batchOp{op})
				default:
					return
				}
			}
		}
		batch := []*batchOp{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-b.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*batchOp) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.wb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i, op := range batch {
			sp := fmt.Sprintf("w%d", i)
			if err := tx.SavePoint(sp).Error; err != nil {
				return err
			}
			if err := op.fn(tx); err != nil {
				if !refusal(err) {
					return err
				}
				op.err = err
				if err := tx.RollbackTo(sp).Error; err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, op := range batch {
		if err != nil {
			op.err = wrapDBError(err)
		}
		close(op.done)
	}
	s.pool.prepareSeen(ctx)
}
