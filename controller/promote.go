package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sysrec/sysrec/api/v1alpha1"
	"github.com/sysrec/sysrec/recording"
)

// Promote asks for recording key's promotion to Enforce, with a window
// (recording.DefaultWindow when zero) and force: it refuses, wrapping
// recording.ErrRecentViolations, when the recording's nodes reported a
// violation newer than the window at now and force is not set, and
// otherwise sets spec.stage and spec.promotion with a merge patch. The
// controller publishes the enforcing profiles once it grants the
// promotion too. It returns the recording as patched.
func Promote(ctx context.Context, c client.Client, log *slog.Logger, key types.NamespacedName, window time.Duration, force bool, now time.Time) (*v1alpha1.SyscallRecording, error) {
	if window <= 0 {
		window = recording.DefaultWindow
	}
	rec := &v1alpha1.SyscallRecording{}
	if err := c.Get(ctx, key, rec); err != nil {
		return nil, fmt.Errorf("reading recording %s: %w", key, err)
	}
	rec.Spec.Promotion = v1alpha1.Promotion{Window: &metav1.Duration{Duration: window}, Force: force}
	if err := recording.CanPromote(rec, now); err != nil {
		return nil, fmt.Errorf("promoting recording %s: %w", key, err)
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{
		"stage":     v1alpha1.StageEnforce,
		"promotion": rec.Spec.Promotion,
	}})
	if err != nil {
		return nil, fmt.Errorf("encoding the promotion of recording %s: %w", key, err)
	}
	if err := c.Patch(ctx, rec, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return nil, fmt.Errorf("promoting recording %s: %w", key, err)
	}
	log.Info("asked for the promotion to Enforce", "recording", key, "window", window, "force", force)
	return rec, nil
}

// Summary is one recording as listings show it.
type Summary struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	Phase      string           `json:"phase"`
	Stage      v1alpha1.Stage   `json:"stage"`
	Requested  v1alpha1.Stage   `json:"requestedStage"`
	Nodes      []string         `json:"nodes"`
	Profiles   []ProfileSummary `json:"profiles"`
	Violations int              `json:"violations"`
	Installed  string           `json:"installed"`
}

// ProfileSummary is one profile of a recording as listings show it.
type ProfileSummary struct {
	Container        string   `json:"container"`
	Version          string   `json:"version"`
	Stage            string   `json:"stage"`
	Syscalls         int      `json:"syscalls"`
	Replicas         int      `json:"replicas"`
	LocalhostProfile string   `json:"localhostProfile"`
	InstalledOn      []string `json:"installedOn"`
}

// Summarize says what listings show of r.
func Summarize(r *v1alpha1.SyscallRecording) Summary {
	s := Summary{
		Namespace: r.Namespace, Name: r.Name, Phase: r.Status.Phase, Stage: r.Status.Stage,
		Requested: r.Spec.Stage, Nodes: []string{}, Profiles: []ProfileSummary{},
		Violations: len(r.Status.Violations), Installed: "Unknown",
	}
	if s.Requested == "" {
		s.Requested = v1alpha1.StageAudit
	}
	for _, n := range r.Status.Nodes {
		s.Nodes = append(s.Nodes, n.Node)
	}
	for _, p := range r.Status.Profiles {
		on := p.InstalledOn
		if on == nil {
			on = []string{}
		}
		s.Profiles = append(s.Profiles, ProfileSummary{
			Container: p.Container, Version: p.Version, Stage: string(p.Stage),
			Syscalls: recording.Count(p.Syscalls), Replicas: p.Replicas,
			LocalhostProfile: p.LocalhostProfile, InstalledOn: on,
		})
	}
	for _, c := range r.Status.Conditions {
		if c.Type == v1alpha1.ConditionInstalled {
			s.Installed = string(c.Status)
		}
	}
	return s
}
