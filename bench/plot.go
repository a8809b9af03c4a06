package main

import (
	"fmt"
	"html"
	"os"
	"strings"
)

// bar is one bar of a chart.
type bar struct {
	Label string
	Value float64
}

// writeBarChart draws a horizontal bar chart as a small standalone SVG file:
// one bar per entry, scaled to the largest value, each labelled with its
// value and unit.
func writeBarChart(path, title, unit string, bars []bar) error {
	const (
		width    = 640
		left     = 120 // room for labels
		right    = 140 // room for values
		barH     = 28
		gap      = 14
		top      = 44
		fontSize = 14
	)
	maxV := 0.0
	for _, b := range bars {
		maxV = max(maxV, b.Value)
	}
	if maxV <= 0 {
		maxV = 1
	}
	height := top + len(bars)*(barH+gap) + gap
	colors := []string{"#2b7bb9", "#d9822b", "#5aa05a", "#a05a9c"}

	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, height, width, height, fontSize)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&sb, `<text x="%d" y="26" font-weight="bold">%s</text>`+"\n", 10, html.EscapeString(title))
	span := float64(width - left - right)
	for i, b := range bars {
		y := top + i*(barH+gap)
		w := span * b.Value / maxV
		fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n",
			left-8, y+barH/2+fontSize/3, html.EscapeString(b.Label))
		fmt.Fprintf(&sb, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n",
			left, y, w, barH, colors[i%len(colors)])
		fmt.Fprintf(&sb, `<text x="%.1f" y="%d">%.1f %s</text>`+"\n",
			float64(left)+w+6, y+barH/2+fontSize/3, b.Value, html.EscapeString(unit))
	}
	sb.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}
