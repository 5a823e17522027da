package redshift

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/sources/record"
)

// kind is how records become rows.
type kind int

const (
	kindText      kind = iota // delimited text (Redshift's default: pipe)
	kindCSV                   // CSV
	kindJSONAuto              // JSON 'auto' / 'auto ignorecase': top-level keys to columns
	kindJSONPaths             // JSON 's3://…jsonpaths': one path per column
	kindRaw                   // Sluice: the whole record into the one column
)

// Format is a parsed CopyOptions (firehose.md §6).
type Format struct {
	kind         kind
	Delimiter    string // text and CSV
	Quote        string // CSV ("" = ")
	Null         string // NULL AS
	nullSet      bool
	IgnoreHeader int // lines skipped at the start of each loaded object (batch)
	GZIP         bool
	IgnoreCase   bool   // JSON 'auto ignorecase'
	JSONPaths    string // JSON 's3://…'
	// options is CopyOptions as given, for the SQL sent to a real Redshift
	options string
}

// JSON reports whether the records are JSON objects mapped to columns.
func (f Format) JSON() bool { return f.kind == kindJSONAuto || f.kind == kindJSONPaths }

// Raw reports whether each record goes whole into one column.
func (f Format) Raw() bool { return f.kind == kindRaw }

// Name is the format as Describe and logs show it.
func (f Format) Name() string {
	switch f.kind {
	case kindCSV:
		return "csv"
	case kindJSONAuto:
		if f.IgnoreCase {
			return "json auto ignorecase"
		}
		return "json auto"
	case kindJSONPaths:
		return "json jsonpaths"
	case kindRaw:
		return "raw"
	}
	return "text"
}

// ignored are Redshift COPY options Sluice accepts and does not act on (load tuning it
// emulates or does not need, and the credentials of a real Redshift); the value says
// whether a quoted argument or ON/OFF may follow.
var ignored = map[string]bool{
	"EMPTYASNULL": false, "BLANKSASNULL": false, "TRUNCATECOLUMNS": false, "TRIMBLANKS": false,
	"FILLRECORD": false, "REMOVEQUOTES": false, "ESCAPE": false, "EXPLICIT_IDS": false,
	"ROUNDEC": false, "MANIFEST": false, "ACCEPTANYDATE": false,
	"TIMEFORMAT": true, "DATEFORMAT": true, "ACCEPTINVCHARS": true, "REGION": true,
	"IAM_ROLE": true, "CREDENTIALS": true, "ENCODING": true,
	"COMPUPDATE": true, "STATUPDATE": true,
}

// ParseCopyOptions parses CopyOptions. Empty means FORMAT text, DELIMITER '|', NULL '\N'.
// RAW is Sluice's own option (the whole record into the one column of DataTableColumns,
// e.g. a jsonb column). Errors are client-facing and name the option.
func ParseCopyOptions(s string) (Format, error) {
	f := Format{Delimiter: "|", options: strings.TrimSpace(s)}
	toks, err := tokenize(s)
	if err != nil {
		return f, err
	}
	delimSet := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.quoted {
			return f, record.InvalidArgument("CopyOptions: unexpected string '%s'.", t.s)
		}
		word := strings.ToUpper(t.s)
		// arg returns the next quoted argument, skipping an optional AS.
		arg := func() (string, error) {
			if i+1 < len(toks) && !toks[i+1].quoted && strings.EqualFold(toks[i+1].s, "AS") {
				i++
			}
			if i+1 >= len(toks) || !toks[i+1].quoted {
				return "", record.InvalidArgument("CopyOptions: %s needs a quoted value, e.g. %s '|'.", word, word)
			}
			i++
			return toks[i].s, nil
		}
		switch word {
		case "DELIMITER":
			d, err := arg()
			if err != nil {
				return f, err
			}
			if len(d) != 1 {
				return f, record.InvalidArgument("CopyOptions: DELIMITER '%s' must be one character.", d)
			}
			f.Delimiter, delimSet = d, true
		case "CSV":
			f.kind = kindCSV
			if i+1 < len(toks) && strings.EqualFold(toks[i+1].s, "QUOTE") && !toks[i+1].quoted {
				i++
				q, err := arg()
				if err != nil {
					return f, err
				}
				if len(q) != 1 {
					return f, record.InvalidArgument("CopyOptions: QUOTE '%s' must be one character.", q)
				}
				f.Quote = q
			}
		case "NULL":
			n, err := arg()
			if err != nil {
				return f, err
			}
			f.Null, f.nullSet = n, true
		case "IGNOREHEADER":
			if i+1 < len(toks) && strings.EqualFold(toks[i+1].s, "AS") {
				i++
			}
			if i+1 >= len(toks) {
				return f, record.InvalidArgument("CopyOptions: IGNOREHEADER needs a number of lines.")
			}
			i++
			n, err := strconv.Atoi(toks[i].s)
			if err != nil || n < 0 || n > 1<<20 {
				return f, record.InvalidArgument("CopyOptions: IGNOREHEADER %s is not a number of lines (0..1048576).", toks[i].s)
			}
			f.IgnoreHeader = n
		case "GZIP":
			f.GZIP = true
		case "JSON", "FORMAT":
			if word == "FORMAT" { // FORMAT [AS] JSON '…'
				if i+1 < len(toks) && strings.EqualFold(toks[i+1].s, "AS") {
					i++
				}
				if i+1 >= len(toks) || !strings.EqualFold(toks[i+1].s, "JSON") {
					return f, record.InvalidArgument("CopyOptions: FORMAT supports only JSON here (CSV and delimited text have their own options).")
				}
				i++
			}
			j, err := arg()
			if err != nil {
				return f, record.InvalidArgument("CopyOptions: JSON needs 'auto', 'auto ignorecase' or the s3:// URL of a jsonpaths file.")
			}
			switch {
			case strings.EqualFold(j, "auto"):
				f.kind = kindJSONAuto
			case strings.EqualFold(j, "auto ignorecase"):
				f.kind, f.IgnoreCase = kindJSONAuto, true
			case strings.HasPrefix(j, "s3://"):
				f.kind, f.JSONPaths = kindJSONPaths, j
			default:
				return f, record.InvalidArgument("CopyOptions: JSON '%s' is not 'auto', 'auto ignorecase' or an s3:// jsonpaths URL.", j)
			}
		case "RAW":
			f.kind = kindRaw
		default:
			takesArg, ok := ignored[word]
			if !ok {
				return f, record.InvalidArgument("CopyOptions: %s is not supported by Sluice (supported: DELIMITER, CSV [QUOTE], NULL AS, IGNOREHEADER, GZIP, JSON 'auto' | 'auto ignorecase' | 's3://…', RAW, and the load-tuning options it ignores).", t.s)
			}
			if takesArg && i+1 < len(toks) {
				nx := toks[i+1]
				if nx.quoted || strings.EqualFold(nx.s, "ON") || strings.EqualFold(nx.s, "OFF") || strings.EqualFold(nx.s, "AS") {
					i++
					if strings.EqualFold(nx.s, "AS") && !nx.quoted && i+1 < len(toks) {
						i++
					}
				}
			}
		}
	}
	if (f.JSON() || f.Raw()) && (delimSet || f.Quote != "") {
		return f, record.InvalidArgument("CopyOptions: DELIMITER and QUOTE do not apply to %s.", f.Name())
	}
	if f.kind == kindCSV && !delimSet {
		f.Delimiter = ","
	}
	if !f.nullSet && f.kind == kindText {
		f.Null = `\N`
	}
	return f, nil
}

type token struct {
	s      string
	quoted bool
}

// tokenize splits CopyOptions into words and single-quoted strings (” inside is ').
func tokenize(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == ';':
			i++
		case c == '\'':
			var sb strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, record.InvalidArgument("CopyOptions: a quoted string is not closed.")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				sb.WriteByte(s[i])
				i++
			}
			out = append(out, token{s: sb.String(), quoted: true})
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n,;'", rune(s[j])) {
				j++
			}
			out = append(out, token{s: s[i:j]})
			i = j
		}
	}
	return out, nil
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

// ParseTable checks DataTableName ([schema.]table, unquoted identifiers, folded to lower
// case as Redshift does).
func ParseTable(name string) (string, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", record.InvalidArgument("DataTableName %q must be table or schema.table.", name)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) || len(p) > 127 {
			return "", record.InvalidArgument("DataTableName %q: %q is not an identifier (letters, digits, _ and $, starting with a letter or _; at most 127).", name, p)
		}
	}
	return strings.ToLower(name), nil
}

// ParseColumns checks DataTableColumns (comma-separated column names; empty = every column).
func ParseColumns(cols string) ([]string, error) {
	if strings.TrimSpace(cols) == "" {
		return nil, nil
	}
	var out []string
	for _, c := range strings.Split(cols, ",") {
		c = strings.TrimSpace(c)
		if !identRE.MatchString(c) || len(c) > 127 {
			return nil, record.InvalidArgument("DataTableColumns %q: %q is not a column name (letters, digits, _ and $, starting with a letter or _).", cols, c)
		}
		out = append(out, strings.ToLower(c))
	}
	return out, nil
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func columnList(cols []string) string {
	if len(cols) == 0 {
		return ""
	}
	return " (" + strings.Join(cols, ", ") + ")"
}

// stdinSQL is the COPY … FROM STDIN statement that loads what encode produces. JSON and raw
// records are turned into tab-separated text by Sluice; delimited text and CSV go as they
// are, with the PostgreSQL options of the CopyOptions.
func stdinSQL(table string, cols []string, f Format) string {
	var opts []string
	switch f.kind {
	case kindCSV:
		opts = append(opts, "FORMAT csv", "DELIMITER "+quoteLiteral(f.Delimiter))
		if f.Quote != "" {
			opts = append(opts, "QUOTE "+quoteLiteral(f.Quote))
		}
		if f.nullSet {
			opts = append(opts, "NULL "+quoteLiteral(f.Null))
		}
	case kindText:
		opts = append(opts, "FORMAT text", "DELIMITER "+quoteLiteral(f.Delimiter), "NULL "+quoteLiteral(f.Null))
	default:
		opts = append(opts, "FORMAT text")
	}
	return fmt.Sprintf("COPY %s%s FROM STDIN WITH (%s)", table, columnList(cols), strings.Join(opts, ", "))
}

// RedshiftSQL is the statement Firehose sends to a real Redshift for one manifest:
// COPY <table> [(<cols>)] FROM '<manifest>' CREDENTIALS 'aws_iam_role=<role>' MANIFEST
// <CopyOptions>. Sluice produces it with the same code that loads PostgreSQL and logs it;
// Redshift itself cannot run here.
func RedshiftSQL(table string, cols []string, manifestURL, roleARN string, f Format) string {
	sql := fmt.Sprintf("COPY %s%s FROM %s CREDENTIALS %s MANIFEST", table, columnList(cols), quoteLiteral(manifestURL),
		quoteLiteral("aws_iam_role="+roleARN))
	if f.options != "" {
		sql += " " + f.options
	}
	return sql
}
