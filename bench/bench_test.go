package main

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"1GiB", 1 << 30, false},
		{"256MiB", 256 << 20, false},
		{"256m", 256 << 20, false},
		{"4096", 4096, false},
		{"16K", 16 << 10, false},
		{"", 0, true},
		{"0", 0, true},
		{"MiB", 0, true},
		{"1.5G", 0, true},
		{"1TB", 0, true},
		{"99999999999G", 0, true},
	}
	for _, c := range cases {
		got, err := parseSize(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, error=%v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{0.9, 0.2, 10}, 0.9},
	}
	for _, c := range cases {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestWriteBarChart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.svg")
	err := writeBarChart(path, "a <title> & more", "MB/s", []bar{{"shoal", 200}, {"other", 100}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, with the escaped title and both values.
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var widths []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			for _, a := range se.Attr {
				if a.Name.Local == "width" && a.Value != "640" {
					widths = append(widths, a.Value)
				}
			}
		}
	}
	for _, want := range []string{"a &lt;title&gt; &amp; more", "200.0 MB/s", "100.0 MB/s"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("SVG lacks %q:\n%s", want, data)
		}
	}
	// The larger bar spans the full width, the other half of it.
	if len(widths) != 2 || widths[0] != "380.0" || widths[1] != "190.0" {
		t.Errorf("bar widths = %v, want [380.0 190.0]", widths)
	}
}
