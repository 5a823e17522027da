package streamcore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Shard iterators (reference §5.1):
//
//	base64(00 00 00 00 00 00 00 01 ‖ IV(16) ‖ AES-256-CBC/PKCS#7(plaintext))
//	plaintext = <created ms, 14 digits>/<account>/<region>/<stream>/<stream created ms>/<shard id>/<I|X><seq>
//
// I = at the sequence number, X = after it. The key lives in the data dir.

const iteratorTTL = 300000 // ms

var iteratorMagic = []byte{0, 0, 0, 0, 0, 0, 0, 1}

type iterator struct {
	CreatedMs       int64
	Key             StreamKey
	StreamCreatedMs int64
	ShardID         string
	After           bool
	Seq             string
}

func (e *Engine) encodeIterator(it iterator) string {
	kind := "I"
	if it.After {
		kind = "X"
	}
	plain := fmt.Sprintf("%014d/%s/%s/%s/%d/%s/%s%s", it.CreatedMs, it.Key.Account, it.Key.Region, it.Key.Name,
		it.StreamCreatedMs, it.ShardID, kind, it.Seq)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, 8+aes.BlockSize+len(buf))
	copy(out, iteratorMagic)
	iv := out[8 : 8+aes.BlockSize]
	_, _ = rand.Read(iv)
	block, _ := aes.NewCipher(e.iterKey)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[8+aes.BlockSize:], buf)
	return base64.StdEncoding.EncodeToString(out)
}

var errBadIterator = &Error{Code: CodeInvalidArgument, Msg: "Invalid ShardIterator."}

const javaDate = "Mon Jan 02 15:04:05 UTC 2006"

// decodeIterator checks and parses an iterator; expiry uses the engine clock.
func (e *Engine) decodeIterator(s string) (iterator, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < 8+2*aes.BlockSize || len(raw)%aes.BlockSize != 8 || !bytes.Equal(raw[:8], iteratorMagic) {
		return iterator{}, errBadIterator
	}
	block, _ := aes.NewCipher(e.iterKey)
	body := make([]byte, len(raw)-8-aes.BlockSize)
	cipher.NewCBCDecrypter(block, raw[8:8+aes.BlockSize]).CryptBlocks(body, raw[8+aes.BlockSize:])
	pad := int(body[len(body)-1])
	if pad < 1 || pad > aes.BlockSize || pad > len(body) {
		return iterator{}, errBadIterator
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return iterator{}, errBadIterator
		}
	}
	parts := strings.Split(string(body[:len(body)-pad]), "/")
	if len(parts) != 7 || len(parts[0]) != 14 || len(parts[6]) < 2 {
		return iterator{}, errBadIterator
	}
	var it iterator
	if it.CreatedMs, err = strconv.ParseInt(parts[0], 10, 64); err != nil {
		return iterator{}, errBadIterator
	}
	if it.StreamCreatedMs, err = strconv.ParseInt(parts[4], 10, 64); err != nil {
		return iterator{}, errBadIterator
	}
	it.Key = StreamKey{Account: parts[1], Region: parts[2], Name: parts[3]}
	it.ShardID = parts[5]
	switch parts[6][0] {
	case 'I':
	case 'X':
		it.After = true
	default:
		return iterator{}, errBadIterator
	}
	it.Seq = parts[6][1:]
	if _, k := parseSeqNum(it.Seq); k != seqOK {
		return iterator{}, errBadIterator
	}
	now := e.nowMs()
	if it.CreatedMs > now {
		return iterator{}, errBadIterator
	}
	if now-it.CreatedMs > iteratorTTL {
		return iterator{}, newErr(CodeExpiredIterator, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			time.UnixMilli(it.CreatedMs).UTC().Format(javaDate), time.UnixMilli(now).UTC().Format(javaDate), iteratorTTL)
	}
	return it, nil
}
