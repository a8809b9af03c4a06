package main

import (
	"fmt"
	"html"
	"math"
	"os"
	"slices"
	"strings"
)

// lineSeries is one line of a line chart: y values at the chart's x values
// (NaN where the series has no point).
type lineSeries struct {
	Label string
	Color string
	Y     []float64
}

// linePanel is one chart: x values spaced evenly (they are categories like
// N = 1, 5, 10), series drawn as lines with dots, and dashed reference lines.
type linePanel struct {
	Title  string
	X      []int
	XLabel string
	Series []lineSeries
	Refs   []refLine
}

// refLine is a dashed horizontal line at Y, labelled.
type refLine struct {
	Y     float64
	Label string
}

// writeLineCharts draws panels one above the other in one standalone SVG.
func writeLineCharts(path string, panels []linePanel) error {
	const (
		width   = 640
		panelH  = 300
		left    = 60
		right   = 150 // room for the legend
		top     = 40
		bottom  = 46
		fontSz  = 13
		tickNum = 5
	)
	var sb strings.Builder
	height := panelH * len(panels)
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, height, width, height, fontSz)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	for pi, p := range panels {
		y0 := pi * panelH
		plotW, plotH := float64(width-left-right), float64(panelH-top-bottom)
		maxY := 0.0
		for _, s := range p.Series {
			for _, v := range s.Y {
				if !math.IsNaN(v) {
					maxY = max(maxY, v)
				}
			}
		}
		for _, r := range p.Refs {
			maxY = max(maxY, r.Y)
		}
		maxY = niceCeil(maxY * 1.05)
		xAt := func(i int) float64 {
			if len(p.X) == 1 {
				return float64(left) + plotW/2
			}
			return float64(left) + plotW*float64(i)/float64(len(p.X)-1)
		}
		yAt := func(v float64) float64 { return float64(y0+top) + plotH*(1-v/maxY) }
		fmt.Fprintf(&sb, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y0+22, html.EscapeString(p.Title))
		// Axes, grid and ticks.
		for t := 0; t <= tickNum; t++ {
			v := maxY * float64(t) / tickNum
			y := yAt(v)
			fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, float64(left)+plotW, y)
			fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="end">%.2g</text>`+"\n", left-6, y+4, v)
		}
		for i, x := range p.X {
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", xAt(i), float64(y0+top)+plotH+18, x)
		}
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			float64(left)+plotW/2, y0+panelH-8, html.EscapeString(p.XLabel))
		for _, r := range p.Refs {
			y := yAt(r.Y)
			fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="6,4"/>`+"\n",
				left, y, float64(left)+plotW, y)
			fmt.Fprintf(&sb, `<text x="%.1f" y="%.1f" fill="#666">%s</text>`+"\n", float64(left)+plotW+6, y+4, html.EscapeString(r.Label))
		}
		for si, s := range p.Series {
			var pts []string
			for i, v := range s.Y {
				if math.IsNaN(v) || i >= len(p.X) {
					continue
				}
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", xAt(i), yAt(v)))
				fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s N=%d: %.2f</title></circle>`+"\n",
					xAt(i), yAt(v), s.Color, html.EscapeString(s.Label), p.X[i], v)
			}
			if len(pts) > 1 {
				fmt.Fprintf(&sb, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.Color)
			}
			ly := y0 + top + 10 + si*20
			fmt.Fprintf(&sb, `<rect x="%.1f" y="%d" width="14" height="4" fill="%s"/>`+"\n", float64(left)+plotW+10, ly-4, s.Color)
			fmt.Fprintf(&sb, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+plotW+30, ly+1, html.EscapeString(s.Label))
		}
	}
	sb.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

// niceCeil rounds v up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

var swarmColors = map[string]string{"shoal": "#2b7bb9", "lt": "#d9822b"}

func writeSwarmResult(dir string, res swarmResult) error {
	base, err := writeResultJSON(dir, "swarm", res)
	if err != nil {
		return err
	}
	var ns []int
	var clients []string
	for _, r := range res.Runs {
		if !slices.Contains(ns, r.N) {
			ns = append(ns, r.N)
		}
		if !slices.Contains(clients, r.Client) {
			clients = append(clients, r.Client)
		}
	}
	slices.Sort(ns)
	ratio := linePanel{Title: fmt.Sprintf("swarm: %s file, every upload capped at %s/s — completion / lower bound",
		humanBytes(res.SizeBytes), humanBytes(res.RateBytes)), X: ns, XLabel: "leechers N",
		Refs: []refLine{{1, "lower bound"}, {1.25, "target 1.25"}}}
	copies := linePanel{Title: "copies of the file the seeder uploaded", X: ns, XLabel: "leechers N",
		Refs: []refLine{{1, "1 copy"}, {1.2, "target 1.2"}}}
	for _, c := range clients {
		rs := lineSeries{Label: pairLabels[c], Color: swarmColors[c]}
		cs := rs
		for _, n := range ns {
			rv, cv := math.NaN(), math.NaN()
			for _, r := range res.Runs {
				if r.Client == c && r.N == n {
					rv, cv = r.RatioToBound, r.SeederCopies
				}
			}
			rs.Y, cs.Y = append(rs.Y, rv), append(cs.Y, cv)
		}
		ratio.Series, copies.Series = append(ratio.Series, rs), append(copies.Series, cs)
	}
	if err := writeLineCharts(base+".svg", []linePanel{ratio, copies}); err != nil {
		return err
	}
	fmt.Printf("swarm: %s file, %s pieces, every upload capped at %s/s, %d CPUs (%s); load %s → %s\n",
		humanBytes(res.SizeBytes), humanBytes(res.PieceLength), humanBytes(res.RateBytes), res.Machine.NProc,
		res.Machine.CPUModel, res.Machine.LoadBefore, res.Machine.LoadAfter)
	if len(res.ShoalFlags) > 0 {
		fmt.Printf("shoal get with %s\n", strings.Join(res.ShoalFlags, " "))
	}
	fmt.Printf("%-10s %4s %9s %9s %14s %7s %13s\n", "client", "N", "seconds", "bound s", "client-server", "ratio", "seeder copies")
	for _, r := range res.Runs {
		fmt.Printf("%-10s %4d %9.2f %9.2f %14.1f %7.2f %13.2f\n", pairLabels[r.Client], r.N, r.Seconds, r.BoundSeconds,
			r.ClientServerSecs, r.RatioToBound, r.SeederCopies)
	}
	fmt.Printf("Results: %s.json, %s.svg\n", base, base)
	return nil
}
