package agent

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sysrec/sysrec/containers"
	"github.com/sysrec/sysrec/recording"
)

// Metrics are the agent's Prometheus metrics. A nil *Metrics records
// nothing. The agent's own memory and CPU come from the process
// collector (process_resident_memory_bytes, process_cpu_seconds_total)
// that the registry holds.
type Metrics struct {
	tracked      prometheus.Gauge
	syscalls     *prometheus.GaugeVec
	installed    *prometheus.GaugeVec
	violations   *prometheus.CounterVec
	unattributed prometheus.Counter

	mu    sync.Mutex
	drops map[string]uint64
}

// NewMetrics registers the agent's metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sysrec_containers_tracked", Help: "Containers of the node that are being recorded.",
		}),
		syscalls: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sysrec_workload_syscalls", Help: "Distinct syscalls that the node recorded per recording and container.",
		}, []string{"namespace", "recording", "container"}),
		installed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sysrec_profile_installed", Help: "1 for each profile version the node's kubelet seccomp directory holds.",
		}, []string{"namespace", "recording", "container", "version"}),
		violations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sysrec_violations_total", Help: "Seccomp audit records of pods running a recording's profile, per syscall.",
		}, []string{"namespace", "recording", "container", "syscall"}),
		unattributed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sysrec_unattributed_violations_total", Help: "Seccomp audit records of processes in no pod of this node.",
		}),
		drops: map[string]uint64{},
	}
	for _, c := range []prometheus.Collector{m.tracked, m.syscalls, m.installed, m.violations, m.unattributed, dropCollector{m}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var dropsDesc = prometheus.NewDesc("sysrec_drops_total",
	"What the node's recorder lost, per counter (all zero means nothing was lost).", []string{"counter"}, nil)

// dropCollector exports the recorder's drop counters as they were at the
// last snapshot.
type dropCollector struct{ m *Metrics }

func (d dropCollector) Describe(ch chan<- *prometheus.Desc) { ch <- dropsDesc }

func (d dropCollector) Collect(ch chan<- prometheus.Metric) {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	for _, k := range []string{"lostTasks", "outOfRange", "targetMissing", "cgroupsFull", "eventsLost"} {
		ch <- prometheus.MustNewConstMetric(dropsDesc, prometheus.CounterValue, float64(d.m.drops[k]), k)
	}
}

func (m *Metrics) observe(s *containers.Snapshot) {
	if m == nil {
		return
	}
	m.tracked.Set(float64(len(s.Containers)))
	m.mu.Lock()
	m.drops["lostTasks"] = s.Drops.LostTasks
	m.drops["outOfRange"] = s.Drops.OutOfRange
	m.drops["targetMissing"] = s.Drops.TargetMissing
	m.drops["cgroupsFull"] = s.Drops.CgroupsFull
	m.drops["eventsLost"] = s.Drops.EventsLost
	m.mu.Unlock()
}

func (m *Metrics) recording(key types.NamespacedName, st *recState) {
	if m == nil {
		return
	}
	for _, c := range st.containers {
		m.syscalls.WithLabelValues(key.Namespace, key.Name, c.Name).Set(float64(recording.Count(c.Syscalls)))
	}
	labels := prometheus.Labels{"namespace": key.Namespace, "recording": key.Name}
	m.installed.DeletePartialMatch(labels)
	for c, v := range st.installed {
		m.installed.WithLabelValues(key.Namespace, key.Name, c, v).Set(1)
	}
}

func (m *Metrics) violation(key types.NamespacedName, container, syscall string) {
	if m == nil {
		return
	}
	m.violations.WithLabelValues(key.Namespace, key.Name, container, syscall).Inc()
}

func (m *Metrics) countUnattributed() {
	if m != nil {
		m.unattributed.Inc()
	}
}

// forget drops a deleted recording's series.
func (m *Metrics) forget(key types.NamespacedName) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"namespace": key.Namespace, "recording": key.Name}
	m.syscalls.DeletePartialMatch(labels)
	m.installed.DeletePartialMatch(labels)
	m.violations.DeletePartialMatch(labels)
}
