// Package awsproto holds the AWS wire pieces shared by Sluice's Kinesis and Firehose
// APIs (reference kinesis.md §1): the JSON 1.1 / CBOR codecs, the error reply shape,
// request ids, SigV4 verification and the dispatch-order checks every request goes
// through, the ValidationException text builder and the event-stream encoder.
//
// A typical handler (Firehose uses JSON only: leave Endpoint.AllowCBOR false):
//
//	ep := &awsproto.Endpoint{
//		TargetPrefix: "Firehose_20150804.",
//		Known:        func(op string) bool { _, ok := ops[op]; return ok },
//		Verifier:     &awsproto.Verifier{Service: "firehose", Credentials: creds,
//			DefaultAccount: account, DefaultRegion: region},
//	}
//	func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
//		call, ok := ep.Begin(w, r) // steps 1–7: CORS, method, body size, content type,
//		if !ok {                   // target, SigV4; the error reply is already written
//			return
//		}
//		defer call.Release()
//		f, perr := awsproto.ParseBody(call.Codec, call.Body) // undecodable → SerializationException
//		if perr != nil { awsproto.WriteError(w, call.Codec, perr); return }
//		name, has := f.Str("DeliveryStreamName")             // member types first …
//		if e := f.Err(); e != nil { awsproto.WriteError(w, call.Codec, e); return }
//		var v awsproto.Validation                             // … then constraints, in model order
//		if v.Required("deliveryStreamName", has) { v.Length("deliveryStreamName", name, 1, 64) }
//		if e := v.Err(); e != nil { awsproto.WriteError(w, call.Codec, e); return }
//		if !call.Identity.Allowed("firehose:PutRecord", arn) {
//			awsproto.WriteError(w, call.Codec, call.Identity.DeniedError("firehose:PutRecord", arn))
//			return
//		}
//		awsproto.WriteReply(w, call.Codec, reply) // struct with json tags; nil = empty body
//	}
//
// Endpoint.Decode (optional) decodes the body after the target check and before
// authentication, as AWS orders them; it stores its result in Call.Parsed.
//
// Identity carries the caller's account (the access key when it is 12 digits, else the
// default account) and region (from the credential scope), which namespace streams.
//
// Encoding rules: reply structs use `json:"Name,omitempty"` tags for optional members,
// []byte for blobs (base64 in JSON, byte strings in CBOR) and Timestamp for timestamps
// (epoch seconds with three decimals in JSON; tag 1 + integer epoch ms in CBOR). CBOR
// output uses definite lengths and shortest integers. Errors are *Error values written
// with WriteError: `{"__type","message"}` (SerializationException: `Message`), status
// 400 (InternalFailure 500) and the x-amzn-ErrorType header.
//
// Credentials: with Verifier.Credentials empty any signature is accepted, but some auth
// (Authorization header or X-Amz-* query) must be present. With credentials, signatures
// (header and presigned), the date skew (15 min) and the scope are checked; unknown keys
// get UnrecognizedClientException, bad signatures InvalidSignatureException. The
// action/resource check (Identity.Allowed) is the handler's, once the resource is known.
package awsproto
