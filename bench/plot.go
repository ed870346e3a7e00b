package bench

import (
	"cmp"
	"context"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/internal/safefile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plotFormats are the file extensions WritePlot accepts.
var plotFormats = []string{".png", ".svg", ".pdf"}

// plotGroup is one device's points and roofs.
type plotGroup struct {
	label   string
	pts     plotter.XYs
	shapes  []int // variant index of each point
	peak    float64
	bw      float64
	hasRoof bool
}

// WritePlot draws a roofline chart of rows to path (.png, .svg or .pdf;
// see Plot), through a temporary file (see internal/safefile): an existing
// file is replaced only with force, and nothing but a regular file ever.
func WritePlot(ctx context.Context, path, title string, rows []Result, force bool) error {
	format, err := PlotFormat(path)
	if err != nil {
		return err
	}
	err = safefile.Write(ctx, path, safefile.Options{Force: force}, func(w io.Writer) error {
		return Plot(w, format, title, rows)
	})
	if err != nil {
		return fmt.Errorf("bench: plot: %w", err)
	}
	return nil
}

// PlotFormat returns the chart format ("png", "svg" or "pdf") of path's
// extension, or an error naming the accepted ones.
func PlotFormat(path string) (string, error) {
	ext := strings.ToLower(filepath.Ext(path))
	if !slices.Contains(plotFormats, ext) {
		return "", fmt.Errorf("bench: plot %s: unknown format %q (want %s)", path, ext, strings.Join(plotFormats, ", "))
	}
	return ext[1:], nil
}

// Plot draws a roofline chart of rows in format ("png", "svg" or "pdf") to
// w: x is arithmetic intensity (FLOP/byte) and y the achieved FLOP/s, both
// logarithmic; each device has one colour, its measured roofline
// (min(peak, AI·bandwidth)) as a dashed line and one point per timed case,
// the point's shape telling the variant; the legend is under the chart.
// Rows without FLOPs, bytes or a time are left out; a chart with no point
// is an error.
func Plot(w io.Writer, format, title string, rows []Result) error {
	p, legend, err := rooflinePlot(title, rows)
	if err != nil {
		return err
	}
	_, lh := legendSize(legend)
	width, height := 9*vg.Inch, 5.5*vg.Inch+lh
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	pad := vg.Points(8)
	p.Draw(draw.Crop(dc, 0, 0, lh, 0))
	legend.Draw(draw.Crop(dc, pad, 0, pad, -(height - lh)))
	_, err = c.WriteTo(w)
	return err
}

// legendSize returns the width and height the legend needs, padding
// included.
func legendSize(l *plot.Legend) (vg.Length, vg.Length) {
	r := l.Rectangle(draw.Canvas{})
	return r.Max.X - r.Min.X, r.Max.Y - r.Min.Y + vg.Points(16)
}

// logTicks marks a log axis: a labelled tick per decade (with SI prefixes
// when si is set: "10 G") and unlabelled ones at 2–9 times it.
type logTicks struct{ si bool }

// Ticks implements plot.Ticker.
func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		label := strconv.FormatFloat(v, 'g', -1, 64)
		if t.si {
			label = strings.TrimSpace(siRate(v))
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
		for i := 2; i < 10; i++ {
			ticks = append(ticks, plot.Tick{Value: v * float64(i)})
		}
	}
	return ticks
}

// rooflinePlot builds the chart WritePlot draws and its legend.
func rooflinePlot(title string, rows []Result) (*plot.Plot, *plot.Legend, error) {
	var groups []*plotGroup
	byKey := map[string]*plotGroup{}
	var variants []string
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, r := range rows {
		ai, rate := r.Intensity, r.TFLOPS*1e12
		if r.FLOPs <= 0 || r.Bytes <= 0 || r.MedianS <= 0 || !(ai > 0) || !(rate > 0) {
			continue
		}
		label := r.Device
		if r.DeviceName != "" {
			label += " · " + shorten(r.DeviceName, 40)
		}
		g, ok := byKey[label]
		if !ok {
			g = &plotGroup{label: label}
			byKey[label] = g
			groups = append(groups, g)
		}
		vi := slices.Index(variants, r.Variant)
		if vi < 0 {
			variants = append(variants, r.Variant)
			vi = len(variants) - 1
		}
		g.pts = append(g.pts, plotter.XY{X: ai, Y: rate})
		g.shapes = append(g.shapes, vi)
		if r.PeakTFLOPS > 0 && r.PeakGBps > 0 {
			g.peak = math.Max(g.peak, r.PeakTFLOPS*1e12)
			g.bw = math.Max(g.bw, r.PeakGBps*1e9)
			g.hasRoof = true
		}
		xmin, xmax = math.Min(xmin, ai), math.Max(xmax, ai)
	}
	if len(groups) == 0 {
		return nil, nil, fmt.Errorf("bench: plot: no timed case with FLOPs and bytes to draw")
	}
	for _, g := range groups {
		if g.hasRoof {
			knee := g.peak / g.bw
			xmin, xmax = math.Min(xmin, knee), math.Max(xmax, knee)
		}
	}
	xmin, xmax = xmin/4, xmax*4

	p := plot.New()
	p.Title.Text = cmp.Or(title, "Roofline")
	p.X.Label.Text = "arithmetic intensity (FLOP/byte)"
	p.Y.Label.Text = "achieved FLOP/s"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{si: true}
	p.Add(plotter.NewGrid())
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(10)
	legend.Padding = vg.Points(2)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, g := range groups {
		for _, pt := range g.pts {
			ymin, ymax = math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
		}
		if g.hasRoof {
			ymax = math.Max(ymax, g.peak)
			ymin = math.Min(ymin, math.Min(g.peak, xmin*g.bw))
		}
	}
	p.X.Min, p.X.Max = xmin, xmax
	p.Y.Min, p.Y.Max = ymin/2, ymax*2

	for i, g := range groups {
		col := plotutil.Color(i)
		if g.hasRoof {
			line := plotter.XYs{{X: xmin, Y: math.Min(g.peak, xmin*g.bw)}}
			if knee := g.peak / g.bw; knee > xmin && knee < xmax {
				line = append(line, plotter.XY{X: knee, Y: g.peak})
			}
			line = append(line, plotter.XY{X: xmax, Y: math.Min(g.peak, xmax*g.bw)})
			l, err := plotter.NewLine(line)
			if err != nil {
				return nil, nil, fmt.Errorf("bench: plot: %w", err)
			}
			l.LineStyle.Color = col
			l.LineStyle.Width = vg.Points(1.5)
			l.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			p.Add(l)
		}
		var first *plotter.Scatter
		for vi := range variants {
			var pts plotter.XYs
			for j, pt := range g.pts {
				if g.shapes[j] == vi {
					pts = append(pts, pt)
				}
			}
			if len(pts) == 0 {
				continue
			}
			s, err := plotter.NewScatter(pts)
			if err != nil {
				return nil, nil, fmt.Errorf("bench: plot: %w", err)
			}
			s.GlyphStyle.Color = col
			s.GlyphStyle.Shape = plotutil.Shape(vi)
			s.GlyphStyle.Radius = vg.Points(3.5)
			p.Add(s)
			if first == nil {
				first = s
			}
		}
		name := g.label
		if g.hasRoof {
			name += fmt.Sprintf(" (roof %sFLOP/s, %sB/s)", siRate(g.peak), siRate(g.bw))
		}
		if first != nil {
			line := &draw.LineStyle{Color: col, Width: vg.Points(1.5), Dashes: []vg.Length{vg.Points(6), vg.Points(3)}}
			legend.Add(name, legendThumb{glyph: first.GlyphStyle, line: line})
		}
	}
	if len(variants) > 1 {
		for vi, v := range variants {
			legend.Add("variant "+v, legendThumb{glyph: draw.GlyphStyle{
				Color: color.Gray{Y: 80}, Shape: plotutil.Shape(vi), Radius: vg.Points(3.5),
			}})
		}
	}
	return p, &legend, nil
}

// legendThumb draws a legend entry: an optional line and a glyph.
type legendThumb struct {
	glyph draw.GlyphStyle
	line  *draw.LineStyle
}

// Thumbnail implements plot.Thumbnailer.
func (t legendThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	if t.line != nil {
		c.StrokeLine2(*t.line, c.Min.X, y, c.Max.X, y)
	}
	c.DrawGlyph(t.glyph, c.Center())
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
