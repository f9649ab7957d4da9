package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"github.com/sysrec/sysrec/api/v1alpha1"
)

// The permissions the controller needs (controller-gen rbac paths=./controller).
//
// +kubebuilder:rbac:groups=sysrec.dev,resources=syscallrecordings,verbs=get;list;watch
// +kubebuilder:rbac:groups=sysrec.dev,resources=syscallrecordings/status,verbs=get;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=security-profiles-operator.x-k8s.io,resources=seccompprofiles,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update

// DefaultResync is how often a recording is looked at again without a
// change: its duration may end, and a promotion window may pass.
const DefaultResync = 30 * time.Second

// Options configure the controller.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Resync is how often every recording is reconciled again;
	// DefaultResync when zero.
	Resync time.Duration
}

// LeaderElectionID names the Lease that the controller's replicas elect
// their leader with.
const LeaderElectionID = "sysrec-controller.sysrec.dev"

// ManagerOptions are the manager settings that the controller wants: its
// cache (CacheOptions) and its leader election Lease, which is used once
// LeaderElection is set.
func ManagerOptions() manager.Options {
	return manager.Options{
		Cache:                         CacheOptions(),
		LeaderElectionID:              LeaderElectionID,
		LeaderElectionResourceLock:    "leases",
		LeaderElectionReleaseOnCancel: true,
	}
}

// CacheOptions restrict the manager's cache to the ConfigMaps that sysrec
// writes, so that the controller does not hold every ConfigMap of the
// cluster in memory, and leave managed fields out of it.
func CacheOptions() cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{LabelManagedBy: "sysrec"})},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// Reconciler merges and publishes the profiles of SyscallRecordings.
type Reconciler struct {
	Client   client.Client
	Log      *slog.Logger
	Opts     Options
	Recorder recorder.EventRecorder // may be nil
}

// Setup registers the controller with mgr.
func Setup(mgr manager.Manager, log *slog.Logger, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	r := &Reconciler{Client: mgr.GetClient(), Log: log, Opts: opts, Recorder: mgr.GetEventRecorder(FieldOwner)}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("syscallrecording").
		For(&v1alpha1.SyscallRecording{}).
		Owns(&corev1.ConfigMap{}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("setting up the SyscallRecording controller: %w", err)
	}
	return nil
}

// Reconcile brings one recording's outputs and status up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := r.Log.With("recording", req.String())
	rec := &v1alpha1.SyscallRecording{}
	if err := r.Client.Get(ctx, req.NamespacedName, rec); err != nil {
		// A deleted recording's objects go with it: they are owned.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Opts.Now()
	plan, err := NewPlan(rec, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	outErr := r.writeOutputs(ctx, log, rec, plan)
	if outErr != nil {
		plan.Warn(fmt.Sprintf("writing the profiles' objects: %v", outErr))
	}
	if err := r.writeStatus(ctx, log, rec, plan); err != nil {
		return ctrl.Result{}, errors.Join(outErr, err)
	}
	if outErr != nil {
		return ctrl.Result{}, outErr
	}
	return ctrl.Result{RequeueAfter: r.Opts.Resync}, nil
}

// writeOutputs writes the ConfigMap and SeccompProfiles that plan wants,
// and deletes the ConfigMap when the recording no longer wants one.
func (r *Reconciler) writeOutputs(ctx context.Context, log *slog.Logger, rec *v1alpha1.SyscallRecording, plan *Plan) error {
	var errs []error
	key := types.NamespacedName{Namespace: rec.Namespace, Name: ConfigMapName(rec.Name)}
	have := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, key, have)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		errs = append(errs, fmt.Errorf("reading ConfigMap %s: %w", key, err))
	case plan.ConfigMap == nil:
		if err == nil && isControlledBy(have, rec) {
			if err := r.Client.Delete(ctx, have); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("deleting ConfigMap %s, which spec.output no longer asks for: %w", key, err))
			} else {
				log.Info("deleted the ConfigMap", "configmap", key)
			}
		}
	case err == nil && configMapCurrent(have, plan.ConfigMap):
	default:
		if err := r.Client.Apply(ctx, configMapApply(plan.ConfigMap), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("writing ConfigMap %s: %w", key, err))
		} else {
			log.Info("wrote the ConfigMap", "configmap", key, "profiles", len(plan.ConfigMap.Data))
		}
	}
	for _, u := range plan.SeccompProfiles {
		err := r.applySeccompProfile(ctx, u)
		if meta.IsNoMatchError(err) {
			plan.Warn(WarningNoSeccompProfileCRD)
			log.Debug("the SeccompProfile CRD is not installed; writing none", "err", err)
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("writing SeccompProfile %s/%s: %w", u.GetNamespace(), u.GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// applySeccompProfile writes u unless the object there has its spec.
// Reads go to the API server: the client does not cache unstructured
// objects, and a cache would need the CRD.
func (r *Reconciler) applySeccompProfile(ctx context.Context, u *unstructured.Unstructured) error {
	have := &unstructured.Unstructured{}
	have.SetGroupVersionKind(u.GroupVersionKind())
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(u), have)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil && jsonEqual(have.Object["spec"], u.Object["spec"]) && labelsHeld(have.GetLabels(), u.GetLabels()) {
		return nil
	}
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// writeStatus applies the controller's part of the status, when it
// changed, and records promotions as events.
func (r *Reconciler) writeStatus(ctx context.Context, log *slog.Logger, rec *v1alpha1.SyscallRecording, plan *Plan) error {
	before := CurrentStatus(rec)
	if before.Equal(plan.Status) {
		return nil
	}
	patch, err := StatusPatch(rec, plan.Status)
	if err != nil {
		return err
	}
	obj := &v1alpha1.SyscallRecording{}
	obj.Namespace, obj.Name = rec.Namespace, rec.Name
	if err := r.Client.Status().Patch(ctx, obj, client.RawPatch(types.ApplyPatchType, patch), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("writing the status of recording %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	log.Debug("wrote the status", "phase", plan.Status.Phase, "stage", plan.Status.Stage, "profiles", len(plan.Status.Profiles))
	r.event(log, rec, before, plan)
	return nil
}

// event records a promotion granted, or refused, when the Promoted
// condition changes.
func (r *Reconciler) event(log *slog.Logger, rec *v1alpha1.SyscallRecording, before Status, plan *Plan) {
	was := meta.FindStatusCondition(before.Conditions, v1alpha1.ConditionPromoted)
	now := meta.FindStatusCondition(plan.Status.Conditions, v1alpha1.ConditionPromoted)
	if now == nil || was != nil && was.Status == now.Status && was.Reason == now.Reason {
		return
	}
	switch now.Reason {
	case ReasonEnforcing:
		log.Info("promotion granted: publishing the enforcing profiles")
		if r.Recorder != nil {
			r.Recorder.Eventf(rec, nil, corev1.EventTypeNormal, "PromotionGranted", "Promote", "publishing the enforcing profiles")
		}
	case ReasonViolationsInWindow:
		log.Warn("promotion refused", "err", plan.PromoteErr)
		if r.Recorder != nil {
			r.Recorder.Eventf(rec, nil, corev1.EventTypeWarning, "PromotionRefused", "Promote", "%s", now.Message)
		}
	}
}

// StatusPatch is the server-side apply patch of the controller's part of
// rec's status.
func StatusPatch(rec *v1alpha1.SyscallRecording, s Status) ([]byte, error) {
	patch := map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(),
		"kind":       "SyscallRecording",
		"metadata":   map[string]any{"name": rec.Name, "namespace": rec.Namespace},
		"status":     s,
	}
	data, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encoding the status of recording %s/%s: %w", rec.Namespace, rec.Name, err)
	}
	return data, nil
}

func configMapApply(cm *corev1.ConfigMap) *corev1ac.ConfigMapApplyConfiguration {
	ac := corev1ac.ConfigMap(cm.Name, cm.Namespace).WithLabels(cm.Labels).WithData(cm.Data)
	for _, ref := range cm.OwnerReferences {
		ac.WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(ref.APIVersion).WithKind(ref.Kind).WithName(ref.Name).WithUID(ref.UID).
			WithController(ref.Controller != nil && *ref.Controller))
	}
	return ac
}

func isControlledBy(obj *corev1.ConfigMap, rec *v1alpha1.SyscallRecording) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == rec.UID
}

func labelsHeld(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func jsonEqual(a, b any) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}
