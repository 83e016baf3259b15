package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/term"
)

// show prints raw, the API's data: as returned (json), as YAML, or as the
// table made from it decoded into T.
func show[T any](s *session, raw json.RawMessage, table func(T) *table) error {
	switch s.format {
	case "json", "yaml":
		return printRaw(s.out, s.format, raw)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("the API's answer does not read as %T: %w", v, err)
	}
	return table(v).write(s.out, width(s.out))
}

// printRaw prints the API's JSON indented, or the same document as YAML
// (keys in the API's order).
func printRaw(w io.Writer, format string, raw json.RawMessage) error {
	if format == "yaml" {
		b, err := jsonToYAML(raw)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// jsonToYAML re-encodes a JSON document as block YAML. JSON is YAML, so it
// parses as a node tree that keeps the keys' order; clearing the flow
// style prints it in blocks.
func jsonToYAML(raw []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	var unflow func(*yaml.Node)
	unflow = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			n.Style = 0
		}
		if n.Kind == yaml.ScalarNode && n.Style == yaml.DoubleQuotedStyle {
			n.Style = 0 // quoted again by the encoder only where YAML needs it
		}
		for _, c := range n.Content {
			unflow(c)
		}
	}
	unflow(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// defaultWidth is how wide tables get when stdout is not a terminal.
const defaultWidth = 80

// width is the terminal's width when w is one, else defaultWidth.
func width(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols >= 40 {
			return cols
		}
	}
	return defaultWidth
}

// isTerminal says whether w is a terminal (spinners and prompts need one).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// table is rows under a header. Columns listed in shrink give way (their
// cells cut with …) when the table is wider than the screen; the others —
// IDs, states, times — are never cut, so what is shown can be pasted.
type table struct {
	header []string
	rows   [][]string
	shrink map[int]bool
	// fields is a key/value view printed above the rows (a get).
	fields [][2]string
	// more are tables printed after this one.
	more []*table
}

// newTable starts a table with the given header; shrinkable columns are
// marked with a trailing "~" (which is not printed).
func newTable(header ...string) *table {
	t := &table{shrink: map[int]bool{}}
	for i, h := range header {
		if name, ok := strings.CutSuffix(h, "~"); ok {
			h = name
			t.shrink[i] = true
		}
		t.header = append(t.header, h)
	}
	return t
}

// row adds a row; cells are cleaned of tabs and newlines.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.Join(strings.Fields(c), " ")
	}
	t.rows = append(t.rows, cells)
}

// field adds a line to the key/value view.
func (t *table) field(key, value string) {
	t.fields = append(t.fields, [2]string{key, value})
}

// colGap is the space between columns.
const colGap = 2

// fit cuts the shrinkable columns, widest first, until the table is at
// most width wide (or nothing more can give).
func (t *table) fit(width int) {
	if len(t.header) == 0 {
		return
	}
	widths := make([]int, len(t.header))
	measure := func(cells []string) {
		for i, c := range cells {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c))
			}
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	total := func() int {
		n := colGap * (len(widths) - 1)
		for _, w := range widths {
			n += w
		}
		return n
	}
	// A cut column keeps at least its header and ten characters, and
	// only when that is not enough less than ten.
	for _, minCol := range []int{10, 4} {
		floor := func(i int) int { return max(minCol, utf8.RuneCountInString(t.header[i])) }
		for total() > width {
			widest := -1
			for i, w := range widths {
				if t.shrink[i] && w > floor(i) && (widest < 0 || w > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				break
			}
			widths[widest]--
		}
	}
	for _, r := range t.rows {
		for i := range r {
			if i < len(widths) && t.shrink[i] {
				r[i] = cut(r[i], widths[i])
			}
		}
	}
}

// cut shortens s to n runes, marking the cut with ….
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// write prints the key/value view, then the rows, within width columns.
func (t *table) write(w io.Writer, width int) error {
	tw := tabwriter.NewWriter(w, 0, 0, colGap, ' ', 0)
	for _, f := range t.fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], cut(strings.Join(strings.Fields(f[1]), " "), max(10, width-16)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(t.header) == 0 {
		return nil
	}
	if len(t.fields) > 0 {
		fmt.Fprintln(w)
	}
	if len(t.rows) == 0 && len(t.fields) == 0 {
		_, err := fmt.Fprintln(w, "(none)")
		return err
	}
	t.fit(width)
	tw = tabwriter.NewWriter(w, 0, 0, colGap, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range t.more {
		if len(m.rows) == 0 {
			continue
		}
		fmt.Fprintln(w)
		if err := m.write(w, width); err != nil {
			return err
		}
	}
	return nil
}

// Small readers of the generated models, whose fields are all pointers.

func str[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func num[T int | int64 | float32](p *T) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

func yesNo(p *bool) string {
	if p == nil {
		return ""
	}
	if *p {
		return "yes"
	}
	return "no"
}

func idOf[T fmt.Stringer](p *T) string {
	if p == nil {
		return ""
	}
	return (*p).String()
}

// ago says how long before now t was, shortly: 42s, 5m, 3h, 2d.
func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	d := time.Since(*t)
	switch {
	case d < 0:
		return "in " + short(-d)
	default:
		return short(d)
	}
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// stamp prints a time in RFC 3339, local zone.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Local().Format(time.RFC3339)
}

// list joins a string slice.
func list(p *[]string) string {
	if p == nil {
		return ""
	}
	return strings.Join(*p, " ")
}

// nextPage tells, on stderr, how to get the next page of a list.
func (s *session) nextPage(next *string) {
	if next != nil && *next != "" && s.format == "table" {
		fmt.Fprintf(s.errOut, "more: add --next-token %s\n", *next)
	}
}
