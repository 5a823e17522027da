package awsproto

import (
	"net/http"
	"strconv"
)

// Error is an AWS error reply: an HTTP status, the error type written to `__type` and
// `x-amzn-ErrorType`, and the message. An empty Message is omitted from the body.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

// NewError returns a 400 error of the given type (500 for InternalFailure).
func NewError(typ, msg string) *Error {
	st := http.StatusBadRequest
	if typ == "InternalFailure" || typ == "InternalFailureException" || typ == TypeServiceUnavailable {
		st = http.StatusInternalServerError
		if typ == TypeServiceUnavailable {
			st = http.StatusServiceUnavailable
		}
	}
	return &Error{Status: st, Type: typ, Message: msg}
}

// Serialization returns a SerializationException (its body uses a capital `Message`).
func Serialization(msg string) *Error { return NewError(TypeSerialization, msg) }

// SlowDown is the 503 ServiceUnavailableException "Slow down." of a server out of room
// (the request memory bound).
func SlowDown() *Error { return NewError(TypeServiceUnavailable, "Slow down.") }

// Internal is the 500 InternalFailure reply, which carries no message.
func Internal() *Error { return &Error{Status: 500, Type: "InternalFailure"} }

// Well-known error types.
const (
	TypeSerialization      = "SerializationException"
	TypeUnknownOp          = "UnknownOperationException"
	TypeValidation         = "ValidationException"
	TypeAccessDenied       = "AccessDeniedException"
	TypeInvalidSig         = "InvalidSignatureException"
	TypeUnrecognized       = "UnrecognizedClientException"
	TypeMissingToken       = "MissingAuthenticationTokenException"
	TypeIncompleteSig      = "IncompleteSignatureException"
	TypeInvalidArgument    = "InvalidArgumentException"
	TypeServiceUnavailable = "ServiceUnavailableException"
)

// WriteError writes e in the codec c: `{"__type":…,"message":…}` with status e.Status and
// the x-amzn-ErrorType header. SerializationException spells the member `Message`.
func WriteError(w http.ResponseWriter, c Codec, e *Error) {
	h := w.Header()
	h.Set("x-amzn-ErrorType", e.Type)
	var body []byte
	if c == CBOR {
		body = cborErrorBody(e)
	} else {
		body = jsonErrorBody(e)
	}
	h.Set("Content-Type", c.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Status)
	w.Write(body)
}

func messageKey(e *Error) string {
	if e.Type == TypeSerialization {
		return "Message"
	}
	return "message"
}

func jsonErrorBody(e *Error) []byte {
	b := make([]byte, 0, 64+len(e.Message))
	b = append(b, `{"__type":`...)
	b = AppendJSONString(b, e.Type)
	if e.Message != "" {
		b = append(b, ',')
		b = AppendJSONString(b, messageKey(e))
		b = append(b, ':')
		b = AppendJSONString(b, e.Message)
	}
	return append(b, '}')
}

func cborErrorBody(e *Error) []byte {
	n := 1
	if e.Message != "" {
		n = 2
	}
	b := []byte{0xa0 | byte(n)}
	b = AppendCBORText(b, "__type")
	b = AppendCBORText(b, e.Type)
	if e.Message != "" {
		b = AppendCBORText(b, messageKey(e))
		b = AppendCBORText(b, e.Message)
	}
	return b
}

// WriteXMLAccessDenied writes the 403 XML reply AWS gives to requests whose operation
// cannot be determined.
func WriteXMLAccessDenied(w http.ResponseWriter) { writeAccessDenied(w, true) }

// writeAccessDenied writes the 403 XML reply, with or without a Content-Type (AWS names
// none when the method is not POST).
func writeAccessDenied(w http.ResponseWriter, typed bool) {
	const body = "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
	if typed {
		w.Header().Set("Content-Type", "application/xml")
	} else {
		w.Header()["Content-Type"] = nil // no sniffed type either
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte(body))
}
