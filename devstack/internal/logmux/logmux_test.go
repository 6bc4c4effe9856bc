package logmux

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

func TestPrefixIsFixedWidth(t *testing.T) {
	if got := Prefix("auth"); got != "auth       | " {
		t.Fatalf("Prefix(auth) = %q", got)
	}
	if len(Prefix("withdrawal")) != len(Prefix("edge")) {
		t.Fatalf("prefixes differ in width: %q %q", Prefix("withdrawal"), Prefix("edge"))
	}
}

func TestLineWriterSplitsAndBuffers(t *testing.T) {
	var out bytes.Buffer
	m := New(&out)
	w := m.Writer("auth")
	w.Write([]byte("one\ntw"))
	if got := out.String(); got != "auth       | one\n" {
		t.Fatalf("after first write: %q", got)
	}
	w.Write([]byte("o\r\nthree"))
	w.Close()
	want := "auth       | one\nauth       | two\nauth       | three\n"
	if got := out.String(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestConcurrentWritersNeverInterleaveWithinALine(t *testing.T) {
	var out bytes.Buffer
	m := New(&out)
	var wg sync.WaitGroup
	for _, tag := range []string{"a", "b", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := m.Writer(tag)
			for range 200 {
				// Written in two pieces so a line is only whole once buffered.
				w.Write([]byte(strings.Repeat(tag, 50)))
				w.Write([]byte(strings.Repeat(tag, 50) + "\n"))
			}
			w.Close()
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 800 {
		t.Fatalf("got %d lines, want 800", len(lines))
	}
	for _, l := range lines {
		tag := l[:1]
		if l != Prefix(tag)+strings.Repeat(tag, 100) {
			t.Fatalf("mixed line: %q", l)
		}
	}
}

func TestPrintfPrefixesEveryLine(t *testing.T) {
	var out bytes.Buffer
	New(&out).Printf("devstack", "a %d\nb\n", 1)
	if got, want := out.String(), "devstack   | a 1\ndevstack   | b\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
