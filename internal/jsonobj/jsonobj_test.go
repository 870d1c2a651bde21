package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []Member // nil: refused
	}{
		{`{}`, []Member{}},
		{" \t\r\n{ } \n", []Member{}},
		{`{"a":1}`, []Member{{"a", []byte(`1`)}}},
		{`{ "a" : "x" , "b":[1,{"c":"]}"}] ,"d":{"e":[]},"f":-1.5e+3,"g":true,"h":false,"i":null }`, []Member{
			{"a", []byte(`"x"`)}, {"b", []byte(`[1,{"c":"]}"}]`)}, {"d", []byte(`{"e":[]}`)},
			{"f", []byte(`-1.5e+3`)}, {"g", []byte(`true`)}, {"h", []byte(`false`)}, {"i", []byte(`null`)},
		}},
		{`{"s":"q\"}\\","n":0}`, []Member{{"s", []byte(`"q\"}\\"`)}, {"n", []byte(`0`)}}},
		{`{"mod\u0065l":"m","\ud83d\ude00":1,"é":2}`, []Member{{"model", []byte(`"m"`)}, {"😀", []byte(`1`)}, {"é", []byte(`2`)}}},
		// Duplicates: the last value, at its last position.
		{`{"a":1,"b":2,"a":3}`, []Member{{"b", []byte(`2`)}, {"a", []byte(`3`)}}},
		{`{"a":1,"\u0061":2}`, []Member{{"a", []byte(`2`)}}},
		{`{"a":1,"A":2}`, []Member{{"a", []byte(`1`)}, {"A", []byte(`2`)}}},
		{``, nil},
		{` `, nil},
		{`null`, nil},
		{`[]`, nil},
		{`"x"`, nil},
		{`1`, nil},
		{`{"a":1}{}`, nil},
		{`{"a":1} x`, nil},
		{`{"a":1,}`, nil},
		{`{"a":01}`, nil},
		{`{"a":"` + "\x01" + `"}`, nil},
		{`{"a":1`, nil},
		{`{"a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, nil},
	} {
		got, err := Members([]byte(tc.body))
		if tc.want == nil {
			if err == nil {
				t.Errorf("%.60q: accepted as %q", tc.body, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%.60q: %v", tc.body, err)
			continue
		}
		if !sameMembers(got, tc.want) {
			t.Errorf("%.60q: got %q, want %q", tc.body, got, tc.want)
		}
	}
}

func TestMembersErrors(t *testing.T) {
	if _, err := Members([]byte(`{"a":`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("truncated: %v", err)
	}
	if _, err := Members([]byte(`[1]`)); !errors.Is(err, ErrNotObject) {
		t.Errorf("array: %v", err)
	}
}

// TestMembersManyDuplicates takes the map path of dropDuplicates.
func TestMembersManyDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(`,`)
		}
		b.WriteString(`"k` + string(rune('a'+i%7)) + `":` + strings.Repeat("1", 1+i%3))
	}
	b.WriteString(`}`)
	got, err := Members([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	want := reference(t, []byte(b.String()))
	if !sameMembers(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFind(t *testing.T) {
	body := []byte(`{"id":"x","choices":[{"usage":0}],"Usage":{"a":1},"usage":{"b":2},"error":null,"K":3}`)
	v, err := Find(body, "usage", "error", "missing", "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(v[0]) != `{"b":2}` || string(v[1]) != `null` || v[2] != nil || string(v[3]) != `3` {
		t.Fatalf("got %q", v)
	}
	// U+212A KELVIN SIGN folds to k, as encoding/json matches it.
	if v, _ := Find([]byte(`{"\u212a":1}`), "k"); string(v[0]) != `1` {
		t.Fatalf("kelvin sign: %q", v)
	}
	if v, _ := Find([]byte("{\"\u212a\":1}"), "k"); string(v[0]) != `1` {
		t.Fatalf("kelvin sign unescaped: %q", v)
	}
	if _, err := Find([]byte(`{"usage":}`), "usage"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	if _, err := Find([]byte(`[{"usage":1}]`), "usage"); !errors.Is(err, ErrNotObject) {
		t.Fatalf("array: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = Find(body, "usage", "error") }); n > 1 && !raceDetector {
		t.Fatalf("Find allocates %v times, want only its result", n)
	}
}

func TestAppend(t *testing.T) {
	for _, s := range []string{"", "model", "a b", "q\"b\\", "nl\n\t", "\x00", "é ✓ 😀", "bad\xff", "<&>"} {
		got := AppendString([]byte("x"), s)[1:]
		want, _ := json.Marshal(s)
		var g, w string
		if err := json.Unmarshal(got, &g); err != nil || json.Unmarshal(want, &w) != nil || g != w {
			t.Errorf("%q: %s, want %s", s, got, want)
		}
	}
	b := []byte(`{`)
	b = AppendMember(b, "a", []byte(`1`))
	b = AppendMember(b, `k"`, []byte(`{"x":[]}`))
	b = append(b, '}')
	if string(b) != `{"a":1,"k\"":{"x":[]}}` {
		t.Fatalf("object %s", b)
	}
	if v, ok := Get([]Member{{"a", []byte(`1`)}, {"b", []byte(`2`)}}, "b"); !ok || string(v) != `2` {
		t.Fatalf("Get: %q %v", v, ok)
	}
	if _, ok := Get(nil, "b"); ok {
		t.Fatal("Get found a missing key")
	}
}

// FuzzMembers: Members accepts what json.Unmarshal into a map accepts and returns its
// keys and values, in the order of each key's last occurrence; Find reads what
// json.Unmarshal into a struct reads; the members written back are the same object.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1,"b":[true,null,{"c":"d"}],"a":"x"}`, ` {"k\u0041":-0.5e7 , "s":"\"}\\"} `,
		`{"usage":{"prompt_tokens":3},"Usage":null,"ERROR":{}}`, `{"\u212a":1,"é":2}`, "{\"\xff\":1}",
		`[]`, `null`, `{"a":1}{}`, `{"a":1,}`, `{"a":}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var m map[string]json.RawMessage
		wantErr := json.Unmarshal(body, &m) != nil || m == nil
		got, err := Members(body)
		if (err != nil) != wantErr {
			t.Fatalf("Members error %v, json.Unmarshal refuses: %v", err, wantErr)
		}
		if err == nil {
			if len(got) != len(m) {
				t.Fatalf("%d members, json.Unmarshal has %d", len(got), len(m))
			}
			for _, g := range got {
				if !bytes.Equal(g.Raw, m[g.Key]) {
					t.Fatalf("member %q = %s, json.Unmarshal has %s", g.Key, g.Raw, m[g.Key])
				}
			}
			if want := reference(t, body); !sameMembers(got, want) {
				t.Fatalf("members %q, want %q", got, want)
			}
			// Written back, the members are the same object.
			out := []byte{'{'}
			for _, g := range got {
				out = AppendMember(out, g.Key, g.Raw)
			}
			out = append(out, '}')
			var back map[string]json.RawMessage
			if err := json.Unmarshal(out, &back); err != nil || len(back) != len(m) {
				t.Fatalf("written back as %s: %v", out, err)
			}
			for k, v := range back {
				if !bytes.Equal(v, m[k]) {
					t.Fatalf("written back %q = %s, want %s", k, v, m[k])
				}
			}
		}

		var st struct {
			A json.RawMessage `json:"a"`
			K json.RawMessage `json:"k"`
		}
		stErr := json.Unmarshal(body, &st)
		var te *json.UnmarshalTypeError
		v, err := Find(body, "a", "k")
		switch {
		case stErr != nil && !errors.As(stErr, &te):
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Find: %v, json.Unmarshal: %v", err, stErr)
			}
		case stErr != nil || (err != nil && bytes.Equal(bytes.TrimSpace(body), []byte("null"))):
			if !errors.Is(err, ErrNotObject) {
				t.Fatalf("Find: %v, json.Unmarshal: %v", err, stErr)
			}
		case err != nil:
			t.Fatalf("Find: %v, json.Unmarshal accepts", err)
		case !bytes.Equal(v[0], st.A) || !bytes.Equal(v[1], st.K):
			t.Fatalf("Find %q, json.Unmarshal %s %s", v, st.A, st.K)
		}
	})
}

// reference lists an object's members with encoding/json's token reader, every
// occurrence, then keeps each key's last one.
func reference(t *testing.T, body []byte) []Member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("reference: %v %v", tok, err)
	}
	var all []Member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("reference: %v", err)
		}
		all = append(all, Member{tok.(string), raw})
	}
	if _, err := dec.Token(); err != nil {
		t.Fatalf("reference: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("reference: trailing %v", err)
	}
	want := []Member{}
	for i, m := range all {
		last := true
		for _, n := range all[i+1:] {
			last = last && n.Key != m.Key
		}
		if last {
			want = append(want, m)
		}
	}
	return want
}

func sameMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

// benchBody is an answer of the usual shape and size (about 1 KB).
var benchBody = []byte(`{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat(`Pereira Maintains is in stock in \"paperback\". `, 12) + `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_fc9f1d7035"}`)

func BenchmarkMembers(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Members(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFind(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if v, err := Find(benchBody, "usage", "error"); err != nil || v[0] == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValid is the floor: the validation every call of Members and Find makes,
// against encoding/json's.
func BenchmarkValid(b *testing.B) {
	for _, tc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonobj", Valid}, {"encoding-json", json.Valid}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchBody)))
			for b.Loop() {
				tc.valid(benchBody)
			}
		})
	}
}

func TestEachAndElements(t *testing.T) {
	var got []string
	ok := Each([]byte(`{ "a" : [1, {"x":"}"}] , "b\"c":"s" ,"d":{}}`), func(k, v []byte) { got = append(got, string(k)+"="+string(v)) })
	if want := `"a"=[1, {"x":"}"}] "b\"c"="s" "d"={}`; !ok || strings.Join(got, " ") != want {
		t.Fatalf("Each: %v %q, want %q", ok, got, want)
	}
	if Each([]byte(`[1]`), func(_, _ []byte) { t.Fatal("called for an array") }) {
		t.Fatal("Each accepted an array")
	}
	got = got[:0]
	ok = Elements([]byte(`[ 1 , "a]" ,{"b":[2]},null,[] ]`), func(v []byte) { got = append(got, string(v)) })
	if want := `1|"a]"|{"b":[2]}|null|[]`; !ok || strings.Join(got, "|") != want {
		t.Fatalf("Elements: %v %q, want %q", ok, got, want)
	}
	if !Elements([]byte(`[]`), func([]byte) { t.Fatal("called for an empty array") }) || Elements([]byte(`{}`), func([]byte) {}) {
		t.Fatal("Elements: wrong report for [] or {}")
	}
	for q, want := range map[string]bool{`"abc"`: true, `"é"`: true, `"a\"b"`: false, "\"\xff\"": false, `""`: true, `"`: false, `"" `: false, `"a" `: false} {
		if Plain([]byte(q)) != want {
			t.Errorf("Plain(%s) = %v", q, !want)
		}
	}
}
