package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// result is one workload's numbers; it is also the RESULT line's JSON.
type result struct {
	Workload     string  `json:"workload"`
	Title        string  `json:"title"`
	Files        int     `json:"files"`
	Lines        int64   `json:"lines"`
	LineBytes    int     `json:"line_bytes,omitempty"` // 0: lines of varied lengths
	InputBytes   int64   `json:"input_bytes"`
	Wall         float64 `json:"wall_s"`    // first request to last record stored
	Startup      float64 `json:"startup_s"` // process start to first request
	Shutdown     float64 `json:"shutdown_s"`
	Process      float64 `json:"process_s"` // process start to exit
	LinesPerSec  float64 `json:"lines_per_s"`
	MBPerSec     float64 `json:"input_mb_per_s"`
	CPU          float64 `json:"cpu_s"`
	CPUUser      float64 `json:"cpu_user_s"`
	CPUSys       float64 `json:"cpu_sys_s"`
	CPUPerMLines float64 `json:"cpu_s_per_million_lines"`
	CPUPerGB     float64 `json:"cpu_s_per_gb"`
	LinesPerCPU  float64 `json:"lines_per_cpu_s"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	// The acceptor's own process: its whole life, which is the agent's run
	// and a moment before and after.
	AcceptorCPU      float64 `json:"acceptor_cpu_s"`
	AcceptorCPUPerML float64 `json:"acceptor_cpu_s_per_million_lines"`
	AcceptorRSSMiB   float64 `json:"acceptor_peak_rss_mib"`
	Wire             string  `json:"wire"` // protocol and HTTP version the agent used
	Requests         int64   `json:"requests"`
	Records          int64   `json:"kinesis_records"`
	UserRecords      int64   `json:"user_records"`
	Distinct         int64   `json:"distinct_user_records,omitempty"` // when counted
	DataBytes        int64   `json:"data_bytes"`
	UserBytes        int64   `json:"user_bytes"` // of the records the agent made, inside aggregates
	UsersPerRec      float64 `json:"user_records_per_kinesis_record"`
	UnitsPerM        float64 `json:"payload_units_per_million_lines"`
	Aggregate        int     `json:"aggregation_max_bytes,omitempty"`
	PayloadUnits     int64   `json:"payload_units"`
	IdealUnits       int64   `json:"ideal_payload_units"`
	UnitsRatio       float64 `json:"payload_units_vs_ideal"`
	// SentIdealUnits is the ideal for the bytes actually sent: what
	// packing alone wastes, without the aggregate format's own overhead.
	SentIdealUnits int64   `json:"sent_ideal_payload_units"`
	SentUnitsRatio float64 `json:"payload_units_vs_sent_ideal"`
	RecsPerReq     float64 `json:"records_per_request"`
	Throttled      int64   `json:"throttled_entries,omitempty"`
	Refused        int64   `json:"refused_connections,omitempty"`
	// A fault (outage, throttle) from the agent's start: how long it
	// lasted, the agent's peak memory during it and after it, the lines
	// stored during it, how long after an outage the agent's first request
	// came, and the rate of the rest from then on.
	Fault              string  `json:"fault,omitempty"`
	FaultSeconds       float64 `json:"fault_s,omitempty"`
	FaultPeakRSSMiB    float64 `json:"fault_peak_rss_mib,omitempty"`
	AfterPeakRSSMiB    float64 `json:"after_fault_peak_rss_mib,omitempty"`
	FaultLines         int64   `json:"fault_lines_stored,omitempty"`
	FaultLinesPerSec   float64 `json:"fault_lines_per_s,omitempty"`
	ResumeSeconds      float64 `json:"resume_s,omitempty"`
	CatchUpLinesPerSec float64 `json:"catch_up_lines_per_s,omitempty"`
	ExitErr            string  `json:"exit_error,omitempty"`
	Error              string  `json:"error,omitempty"` // the workload failed
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (r *result) compute() {
	r.LinesPerSec = div(float64(r.Lines), r.Wall)
	r.MBPerSec = div(float64(r.InputBytes)/1e6, r.Wall)
	r.CPUPerMLines = div(r.CPU, float64(r.Lines)/1e6)
	r.CPUPerGB = div(r.CPU, float64(r.InputBytes)/1e9)
	r.LinesPerCPU = div(float64(r.Lines), r.CPU)
	r.AcceptorCPUPerML = div(r.AcceptorCPU, float64(r.Lines)/1e6)
	r.UnitsRatio = div(float64(r.PayloadUnits), float64(r.IdealUnits))
	r.SentIdealUnits = (r.DataBytes + 25600 - 1) / 25600
	r.SentUnitsRatio = div(float64(r.PayloadUnits), float64(r.SentIdealUnits))
	r.RecsPerReq = div(float64(r.Records), float64(r.Requests))
	r.UsersPerRec = div(float64(r.UserRecords), float64(r.Records))
	r.UnitsPerM = div(float64(r.PayloadUnits), float64(r.Lines)/1e6)
}

func (r *result) print(w io.Writer) {
	row := func(name, value, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-14s %16s  %s", name, value, note), " "))
	}
	f := func(format string, v ...any) string { return fmt.Sprintf(format, v...) }
	lineNote := "of varied lengths"
	if r.LineBytes > 0 {
		lineNote = f("%d bytes each", r.LineBytes)
	}
	row("lines", f("%d", r.Lines), f("%s, in %d files", lineNote, r.Files))
	row("input", f("%.1f MB", float64(r.InputBytes)/1e6), "")
	row("wall", f("%.2f s", r.Wall), "first request to last record stored")
	row("startup", f("%.2f s", r.Startup), "process start to first request")
	row("shutdown", f("%.2f s", r.Shutdown), "SIGTERM to exit")
	row("throughput", f("%.0f lines/s", r.LinesPerSec), "")
	row("", f("%.1f MB/s", r.MBPerSec), "of input")
	row("cpu", f("%.2f s", r.CPU), f("user %.2f s, sys %.2f s (whole process life)", r.CPUUser, r.CPUSys))
	row("", f("%.3f s", r.CPUPerMLines), "per million lines")
	row("", f("%.2f s", r.CPUPerGB), "per GB of input")
	row("", f("%.0f lines", r.LinesPerCPU), "per CPU second")
	row("peak rss", f("%.1f MiB", r.PeakRSSMiB), "")
	row("acceptor cpu", f("%.2f s", r.AcceptorCPU), f("%.3f s per million lines; peak rss %.1f MiB (its own process)", r.AcceptorCPUPerML, r.AcceptorRSSMiB))
	row("wire", r.Wire, "as the acceptor saw it")
	row("requests", f("%d", r.Requests), "PutRecords")
	agg := "aggregation off"
	switch {
	case r.Aggregate > 0:
		agg = f("KPL aggregates of up to %d bytes", r.Aggregate)
	case r.UsersPerRec > 1:
		agg = "aggregated, by -dest settings"
	}
	row("records", f("%d", r.Records), f("%.1f per request; %.1f user records each (%s)", r.RecsPerReq, r.UsersPerRec, agg))
	row("user records", f("%d", r.UserRecords), f("%+d vs lines", r.UserRecords-r.Lines))
	if r.Distinct > 0 {
		row("distinct", f("%d", r.Distinct), f("%d duplicates", r.UserRecords-r.Distinct))
	}
	row("data", f("%.1f MB", float64(r.DataBytes)/1e6), f("decoded; %.1f MB of user records", float64(r.UserBytes)/1e6))
	row("payload units", f("%d", r.PayloadUnits), f("ideal %d = user bytes / 25 KiB (x%.3f); %.0f per million lines", r.IdealUnits, r.UnitsRatio, r.UnitsPerM))
	row("", "", f("ideal for the data sent (KPL framing included) %d (x%.3f)", r.SentIdealUnits, r.SentUnitsRatio))
	if r.Fault != "" {
		row(r.Fault, f("%.1f s", r.FaultSeconds), f("from the agent's start; %d lines stored meanwhile (%.0f lines/s)", r.FaultLines, r.FaultLinesPerSec))
		row("", f("%.1f MiB", r.FaultPeakRSSMiB), "peak rss by the end of the "+r.Fault)
		row("", f("%.1f MiB", r.AfterPeakRSSMiB), f("peak rss after it, catching up at %.0f lines/s", r.CatchUpLinesPerSec))
		if r.Fault == string(faultOutage) {
			row("", f("%.2f s", r.ResumeSeconds), "from the acceptor's return to the agent's first request")
		}
		row("", f("%d", r.Throttled), "entries throttled")
		row("", f("%d", r.Refused), "connections refused")
	}
	if r.ExitErr != "" {
		row("exit", r.ExitErr, "")
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(w, "RESULT %s\n", b)
}

// printSummary prints one Markdown table with a row per workload.
func printSummary(w io.Writer, rs []*result) {
	header := []string{"workload", "lines", "input MB", "files", "lines/s", "MB/s", "agent CPU-s / M lines",
		"acceptor CPU-s / M lines", "agent peak RSS MiB", "PUT units (ideal)", "wire", "notes"}
	rows := [][]string{header}
	faults := false
	for _, r := range rs {
		if r.Error != "" {
			msg, _, _ := strings.Cut(r.Error, "\n")
			rows = append(rows, []string{r.Workload + ": " + r.Title, "", "", "", "", "", "", "", "", "", "", "FAILED: " + msg})
			continue
		}
		rate, mbs, note := r.LinesPerSec, r.MBPerSec, ""
		if r.Fault != "" {
			// The wall time of a fault's run is mostly the fault: the rate
			// that says something is the catch-up's.
			faults = true
			rate = r.CatchUpLinesPerSec
			mbs = rate * div(float64(r.InputBytes)/1e6, float64(r.Lines))
			note = fmt.Sprintf("%s %.0f s: peak RSS %.1f MiB during, %.1f MiB after; %s lines stored during (%s/s)",
				r.Fault, r.FaultSeconds, r.FaultPeakRSSMiB, r.AfterPeakRSSMiB, thousands(float64(r.FaultLines)), thousands(r.FaultLinesPerSec))
			if r.Fault == string(faultOutage) {
				note += fmt.Sprintf("; first request %.1f s after the return", r.ResumeSeconds)
			}
			if r.Throttled > 0 {
				note += fmt.Sprintf("; %s entries throttled", thousands(float64(r.Throttled)))
			}
			if r.Refused > 0 {
				note += fmt.Sprintf("; %s connections refused", thousands(float64(r.Refused)))
			}
			if d := r.UserRecords - r.Distinct; r.Distinct > 0 && d > 0 {
				note += fmt.Sprintf("; %s duplicates", thousands(float64(d)))
			}
			note += "; lines/s after the " + r.Fault
		}
		rateCell := thousands(rate)
		if rate == 0 {
			rateCell = "-"
		}
		rows = append(rows, []string{
			r.Workload + ": " + r.Title,
			thousands(float64(r.Lines)),
			fmt.Sprintf("%.1f", float64(r.InputBytes)/1e6),
			thousands(float64(r.Files)),
			rateCell,
			fmt.Sprintf("%.1f", mbs),
			fmt.Sprintf("%.3f", r.CPUPerMLines),
			fmt.Sprintf("%.3f", r.AcceptorCPUPerML),
			fmt.Sprintf("%.1f", r.PeakRSSMiB),
			fmt.Sprintf("%s (%s)", thousands(float64(r.PayloadUnits)), thousands(float64(r.IdealUnits))),
			r.Wire,
			note,
		})
	}
	width := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for n, row := range rows {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i == 0 || i >= len(row)-2 {
				b.WriteString(" " + c + pad + " |") // text: left
			} else {
				b.WriteString(" " + pad + c + " |") // numbers: right
			}
		}
		fmt.Fprintln(w, b.String())
		if n == 0 {
			b.Reset()
			b.WriteString("|")
			for i := range row {
				if i == 0 || i >= len(row)-2 {
					b.WriteString(strings.Repeat("-", width[i]+2) + "|")
				} else {
					b.WriteString(strings.Repeat("-", width[i]+1) + ":|")
				}
			}
			fmt.Fprintln(w, b.String())
		}
	}
	if faults {
		fmt.Fprintln(w, "\nRows with a fault: lines/s and MB/s are the catch-up's, from the agent's first request after an outage or the end of throttling; CPU covers the whole run.")
	}
}
