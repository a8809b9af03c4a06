package main

import (
	"fmt"
	"html"
	"os"
	"strings"
)

// manyPanel is one small bar chart of the "many" figure: one bar per
// torrent count, and the target as a dashed line.
type manyPanel struct {
	title  string
	unit   string
	target float64 // 0: none
	values []float64
}

// writeManyChart draws the scenario's four measurements side by side, one
// panel each, as a standalone SVG.
func writeManyChart(path string, res manyResult) error {
	var labels []string
	panels := []manyPanel{
		{title: "RSS per idle torrent", unit: "KiB", target: res.Targets.KiBPerTorrent},
		{title: "idle CPU (one core)", unit: "%", target: res.Targets.IdleCPUPercent},
		{title: "add all (checks data)", unit: "s"},
		{title: "restart (close + restore)", unit: "s", target: res.Targets.RestartSeconds},
	}
	for _, r := range res.Runs {
		labels = append(labels, fmt.Sprintf("%d", r.Torrents))
		panels[0].values = append(panels[0].values, r.KiBPerTorrent)
		panels[1].values = append(panels[1].values, r.IdleCPUPercent)
		panels[2].values = append(panels[2].values, r.AddSeconds)
		panels[3].values = append(panels[3].values, r.RestartSeconds)
	}
	const (
		panelW   = 220
		panelH   = 220
		top      = 56
		bottom   = 40
		fontSize = 12
		barW     = 44
	)
	width := panelW*len(panels) + 20
	height := top + panelH + bottom
	colors := []string{"#2b7bb9", "#d9822b", "#5aa05a", "#a05a9c"}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, height, width, height, fontSize)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	title := fmt.Sprintf("many: idle seeding torrents of %s in one Session (bars: torrent count; dashed: target)", humanBytes(res.FileSize))
	fmt.Fprintf(&sb, `<text x="10" y="22" font-weight="bold" font-size="14">%s</text>`+"\n", html.EscapeString(title))
	for pi, p := range panels {
		x0 := 10 + pi*panelW
		maxV := p.target
		for _, v := range p.values {
			maxV = max(maxV, v)
		}
		if maxV <= 0 {
			maxV = 1
		}
		maxV *= 1.15 // room for the value labels
		fmt.Fprintf(&sb, `<text x="%d" y="%d" font-weight="bold">%s (%s)</text>`+"\n", x0+10, top-14, html.EscapeString(p.title), html.EscapeString(p.unit))
		base := top + panelH
		fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#444"/>`+"\n", x0+10, base, x0+panelW-20, base)
		for i, v := range p.values {
			h := float64(panelH) * v / maxV
			x := x0 + 20 + i*(barW+16)
			fmt.Fprintf(&sb, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s"/>`+"\n", x, float64(base)-h, barW, h, colors[i%len(colors)])
			fmt.Fprintf(&sb, `<text x="%d" y="%.1f" text-anchor="middle">%s</text>`+"\n", x+barW/2, float64(base)-h-4, formatValue(v))
			fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x+barW/2, base+16, html.EscapeString(labels[i]))
		}
		if p.target > 0 {
			y := float64(base) - float64(panelH)*p.target/maxV
			fmt.Fprintf(&sb, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#c00" stroke-dasharray="5,4"/>`+"\n", x0+10, y, x0+panelW-20, y)
			fmt.Fprintf(&sb, `<text x="%d" y="%.1f" fill="#c00" text-anchor="end">%s</text>`+"\n", x0+panelW-20, y-4, formatValue(p.target))
		}
	}
	fmt.Fprintf(&sb, `<text x="10" y="%d">torrents</text>`+"\n", height-8)
	sb.WriteString("</svg>\n")
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

// formatValue prints v with the precision a small chart label needs.
func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
