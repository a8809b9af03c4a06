package main

import (
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSwarmBounds(t *testing.T) {
	e := &swarmEnv{cfg: swarmConfig{Size: 64 << 20, Rate: 4 << 20}}
	for _, c := range []struct {
		n                   int
		seconds             float64
		uploaded            int64
		bound, cs, ratio, k float64
	}{
		// F/U = 16 s dominates N·F/(U+N·U) = 16·N/(N+1) for every N.
		{1, 20, 64 << 20, 16, 16, 1.25, 1},
		{5, 32, 96 << 20, 16, 80, 2, 1.5},
		{40, 16, 64 << 20, 16, 640, 1, 1},
	} {
		r := swarmRun{N: c.n, Seconds: c.seconds, SeederUploaded: c.uploaded}
		e.fillBounds(&r)
		if r.BoundSeconds != c.bound || r.ClientServerSecs != c.cs || r.RatioToBound != c.ratio || r.SeederCopies != c.k {
			t.Errorf("N=%d: bound %v, client-server %v, ratio %v, copies %v; want %v, %v, %v, %v",
				c.n, r.BoundSeconds, r.ClientServerSecs, r.RatioToBound, r.SeederCopies, c.bound, c.cs, c.ratio, c.k)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 1}, {0.9, 1}, {1, 1}, {1.2, 2}, {2.1, 2.5}, {3, 5}, {7, 10}, {11, 20}, {0.013, 0.02},
	} {
		if got := niceCeil(c.in); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestWriteLineCharts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.svg")
	panel := linePanel{Title: "ratio <&>", X: []int{1, 5, 10}, XLabel: "N",
		Series: []lineSeries{
			{Label: "shoal", Color: "#000", Y: []float64{1, 1.1, 1.2}},
			{Label: "lt", Color: "#111", Y: []float64{1.5, math.NaN(), 2}},
		},
		Refs: []refLine{{1.25, "target"}}}
	if err := writeLineCharts(path, []linePanel{panel, panel}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	circles, lines := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, data)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "circle":
				circles++
			case "polyline":
				lines++
			}
		}
	}
	// Two panels of 3 + 2 points (the NaN is left out), a line per series.
	if circles != 10 || lines != 4 {
		t.Errorf("%d points and %d lines, want 10 and 4:\n%s", circles, lines, data)
	}
	if !strings.Contains(string(data), "ratio &lt;&amp;&gt;") {
		t.Errorf("title not escaped:\n%s", data)
	}
}
