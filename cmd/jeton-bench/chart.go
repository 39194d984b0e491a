package main

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

type chartRow struct {
	name string
	rps  float64
	p99  time.Duration // 0: not an HTTP measurement
}

// drawChart draws two horizontal log-scale bar panels, throughput and p99, one bar per
// scenario, and saves them as a PNG.
func drawChart(path string, rows []chartRow) error {
	names := make([]string, len(rows))
	rps := make([]float64, len(rows))
	p99 := make([]float64, len(rows))
	for i, r := range rows {
		// The first scenario at the top.
		j := len(rows) - 1 - i
		names[j], rps[j] = r.name, r.rps
		p99[j] = float64(r.p99) / float64(time.Millisecond)
	}
	left, err := barPanel("throughput (requests/s, log scale)", names, rps, color.RGBA{R: 46, G: 117, B: 182, A: 255}, true)
	if err != nil {
		return err
	}
	right, err := barPanel("p99 latency (ms, log scale)", names, p99, color.RGBA{R: 214, G: 96, B: 77, A: 255}, false)
	if err != nil {
		return err
	}
	width, height := 30*vg.Centimeter, vg.Length(1.0+0.55*float64(len(rows)))*vg.Centimeter+3*vg.Centimeter
	img := vgimg.New(width, height)
	dc := draw.New(img)
	t := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2}
	plots := [][]*plot.Plot{{left, right}}
	canvases := plot.Align(plots, t, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	png := vgimg.PngCanvas{Canvas: img}
	f, err := createFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = png.WriteTo(f)
	return err
}

// barPanel is one panel: bars from the axis minimum to each value, value labels at the
// ends, scenario names on the left when showNames.
func barPanel(title string, names []string, values []float64, c color.Color, showNames bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for _, v := range values {
		if v > 0 {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	floor := math.Pow(10, math.Floor(math.Log10(lo)))
	if floor >= lo*0.9 {
		floor /= 10
	}
	p.X.Min, p.X.Max = floor, math.Pow(10, math.Ceil(math.Log10(hi*3)))
	bars := &hbars{values: values, floor: floor, color: c}
	p.Add(bars)
	var labels plotter.XYLabels
	for i, v := range values {
		if v <= 0 {
			continue
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: v, Y: float64(i)})
		labels.Labels = append(labels.Labels, " "+rateOrMs(v))
	}
	if len(labels.XYs) > 0 {
		l, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].YAlign = -0.5
			l.TextStyle[i].Font.Size = vg.Points(8)
		}
		p.Add(l)
	}
	ticks := make([]plot.Tick, len(names))
	for i, n := range names {
		if !showNames {
			n = ""
		}
		ticks[i] = plot.Tick{Value: float64(i), Label: n}
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Min, p.Y.Max = -0.6, float64(len(names))-0.4
	p.Add(plotter.NewGrid())
	return p, nil
}

func rateOrMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// hbars draws horizontal bars on a log X axis, from floor to each value.
type hbars struct {
	values []float64
	floor  float64
	color  color.Color
}

func (h *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, v := range h.values {
		if v <= 0 {
			continue
		}
		y0, y1 := trY(float64(i)-0.35), trY(float64(i)+0.35)
		x0, x1 := trX(h.floor), trX(v)
		rect := c.ClipPolygonXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		c.FillPolygon(h.color, rect)
	}
}

func (h *hbars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = h.floor, h.floor
	for _, v := range h.values {
		xmax = math.Max(xmax, v)
	}
	return xmin, xmax, -0.5, float64(len(h.values)) - 0.5
}
