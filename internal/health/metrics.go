package health

import "github.com/prometheus/client_golang/prometheus"

var (
	upDesc = prometheus.NewDesc("ipai_connector_up", "1 when the connector is up, 0 when down or unknown.",
		[]string{"code", "type"}, nil)
	latDesc = prometheus.NewDesc("ipai_connector_latency_seconds", "Duration of the connector's last check.",
		[]string{"code", "type"}, nil)
	uptimeDesc = prometheus.NewDesc("ipai_connector_uptime_ratio", "Share of successful checks in the kept history.",
		[]string{"code", "type"}, nil)
)

// Collector exposes the runner's statuses as Prometheus gauges.
type Collector struct{ R *Runner }

// Describe implements prometheus.Collector.
func (c Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- latDesc
	ch <- uptimeDesc
}

// Collect implements prometheus.Collector.
func (c Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.R.Statuses() {
		up := 0.0
		if s.State == StateUp {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, s.Code, s.Type)
		ch <- prometheus.MustNewConstMetric(latDesc, prometheus.GaugeValue, float64(s.LatencyMS)/1000, s.Code, s.Type)
		ch <- prometheus.MustNewConstMetric(uptimeDesc, prometheus.GaugeValue, s.Uptime, s.Code, s.Type)
	}
}
