// k8s-check builds kustomizations with the kustomize library `kubectl apply -k` uses, decodes
// every object strictly into the real API types (k8s.io/api, KEDA's, the Prometheus Operator's),
// and checks what a cluster would only report once it runs: selectors that select nothing,
// probes on undeclared ports, missing ConfigMaps and Secrets, KEDA trigger metadata its Kafka
// scaler does not read, pods that the `restricted` Pod Security Standard would refuse.
//
//	k8s-check [-partial] [-print] DIR...
//
// -partial: a base whose overlays supply some referenced objects (Secrets); -print: write the
// rendered objects as YAML to stdout (the Python tests read them).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	partial := flag.Bool("partial", false, "allow references to objects an overlay supplies")
	printYAML := flag.Bool("print", false, "write the rendered objects to stdout")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: k8s-check [-partial] [-print] DIR...")
		os.Exit(2)
	}
	kafkaKeys, err := loadKafkaScalerKeys()
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s-check:", err)
		os.Exit(1)
	}
	failed := false
	for _, dir := range flag.Args() {
		rendered, objects, err := build(dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "k8s-check: %s: %v\n", dir, err)
			failed = true
			continue
		}
		problems := check(objects, kafkaKeys, *partial)
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "k8s-check: %s: %s\n", dir, p)
		}
		if len(problems) > 0 {
			failed = true
			continue
		}
		if *printYAML {
			os.Stdout.Write(rendered)
		}
		fmt.Fprintf(os.Stderr, "k8s-check: %s valid, %d objects\n", dir, len(objects))
	}
	if failed {
		os.Exit(1)
	}
}

// object is one rendered resource, decoded into its API type.
type object struct {
	kind string
	name string
	obj  runtime.Object
}

func (o object) String() string { return o.kind + "/" + o.name }

func build(dir string) ([]byte, []object, error) {
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, nil, err
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, kedav1alpha1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, nil, err
		}
	}
	// Strict: an unknown or duplicated field is an error, as `kubectl apply --validate=strict`.
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var rendered bytes.Buffer
	var objects []object
	for _, resource := range resources.Resources() {
		doc, err := resource.AsYAML()
		if err != nil {
			return nil, nil, err
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", resource.GetKind(), resource.GetName(), err)
		}
		objects = append(objects, object{kind: gvk.Kind, name: resource.GetName(), obj: obj})
		rendered.WriteString("---\n")
		rendered.Write(doc)
	}
	return rendered.Bytes(), objects, nil
}

// workload is a pod template with its owner and, for controllers, its selector.
type workload struct {
	owner     object
	selector  *metav1.LabelSelector
	template  corev1.PodTemplateSpec
	claims    []string
	longLived bool
}

func workloads(objects []object) []workload {
	var out []workload
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *appsv1.StatefulSet:
			var claims []string
			for _, c := range v.Spec.VolumeClaimTemplates {
				claims = append(claims, c.Name)
			}
			out = append(out, workload{o, v.Spec.Selector, v.Spec.Template, claims, true})
		case *appsv1.Deployment:
			out = append(out, workload{o, v.Spec.Selector, v.Spec.Template, nil, true})
		case *batchv1.Job:
			out = append(out, workload{o, nil, v.Spec.Template, nil, false})
		}
	}
	return out
}

func check(objects []object, kafkaKeys map[string]scalerKey, partial bool) []string {
	var problems []string
	report := func(o object, format string, args ...any) {
		problems = append(problems, o.String()+": "+fmt.Sprintf(format, args...))
	}
	configMaps := map[string]*corev1.ConfigMap{}
	secrets := map[string]bool{}
	services := map[string]*corev1.Service{}
	for _, o := range objects {
		for _, msg := range validation.IsDNS1123Subdomain(o.name) {
			report(o, "name: %s", msg)
		}
		switch v := o.obj.(type) {
		case *corev1.ConfigMap:
			configMaps[o.name] = v
		case *corev1.Secret:
			secrets[o.name] = true
		case *corev1.Service:
			services[o.name] = v
			for _, msg := range validation.IsDNS1035Label(o.name) {
				report(o, "service name: %s", msg)
			}
		}
	}
	pods := workloads(objects)
	for _, w := range pods {
		checkWorkload(w, configMaps, secrets, services, partial, func(f string, a ...any) { report(w.owner, f, a...) })
	}
	for _, o := range objects {
		switch v := o.obj.(type) {
		case *corev1.Service:
			if v.Spec.ClusterIP == corev1.ClusterIPNone && len(v.Spec.Selector) == 0 {
				report(o, "headless service without a selector")
			}
			matched := podsSelectedBy(pods, labels.SelectorFromSet(v.Spec.Selector))
			if len(matched) == 0 {
				report(o, "selector %v selects no pod template", v.Spec.Selector)
			}
			for _, port := range v.Spec.Ports {
				for _, w := range matched {
					if !declaresPort(w.template.Spec, port.TargetPort.String()) {
						report(o, "targetPort %s is not a port of %s", port.TargetPort.String(), w.owner)
					}
				}
			}
		case *policyv1.PodDisruptionBudget:
			if sel, err := metav1.LabelSelectorAsSelector(v.Spec.Selector); err != nil {
				report(o, "selector: %v", err)
			} else if len(podsSelectedBy(pods, sel)) == 0 {
				report(o, "selector selects no pod template")
			}
		case *networkingv1.NetworkPolicy:
			checkNetworkPolicy(v, pods, func(f string, a ...any) { report(o, f, a...) })
		case *kedav1alpha1.ScaledObject:
			checkScaledObject(v, pods, configMaps, kafkaKeys, func(f string, a ...any) { report(o, f, a...) })
		case *monitoringv1.ServiceMonitor:
			sel, err := metav1.LabelSelectorAsSelector(&v.Spec.Selector)
			if err != nil {
				report(o, "selector: %v", err)
				continue
			}
			var matched []*corev1.Service
			for _, s := range services {
				if sel.Matches(labels.Set(s.Labels)) {
					matched = append(matched, s)
				}
			}
			if len(matched) == 0 {
				report(o, "selector selects no Service")
			}
			for _, endpoint := range v.Spec.Endpoints {
				for _, s := range matched {
					if !servicePort(s, endpoint.Port) {
						report(o, "endpoint port %q is not a port of Service/%s", endpoint.Port, s.Name)
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func checkWorkload(w workload, configMaps map[string]*corev1.ConfigMap, secrets map[string]bool,
	services map[string]*corev1.Service, partial bool, report func(string, ...any)) {
	spec := w.template.Spec
	if w.selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(w.selector)
		if err != nil {
			report("selector: %v", err)
		} else if !sel.Matches(labels.Set(w.template.Labels)) {
			report("selector %v does not match the pod template's labels %v", w.selector.MatchLabels, w.template.Labels)
		}
	}
	for key, value := range w.template.Labels {
		for _, msg := range append(validation.IsQualifiedName(key), validation.IsValidLabelValue(value)...) {
			report("label %s=%s: %s", key, value, msg)
		}
	}
	if s, ok := w.owner.obj.(*appsv1.StatefulSet); ok {
		governing := services[s.Spec.ServiceName]
		if governing == nil && !partial {
			report("serviceName %q names no Service", s.Spec.ServiceName)
		} else if governing != nil && governing.Spec.ClusterIP != corev1.ClusterIPNone {
			report("serviceName %q is not a headless Service", s.Spec.ServiceName)
		}
	}
	volumes := map[string]bool{}
	for _, claim := range w.claims {
		volumes[claim] = true
	}
	for _, v := range spec.Volumes {
		volumes[v.Name] = true
		if v.ConfigMap != nil && configMaps[v.ConfigMap.Name] == nil && !partial {
			report("volume %s: no ConfigMap %q", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil && !secrets[v.Secret.SecretName] && !partial {
			report("volume %s: no Secret %q", v.Name, v.Secret.SecretName)
		}
	}
	// The restricted Pod Security Standard, and what this project adds to it.
	pod := spec.SecurityContext
	if pod == nil || pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		report("pod securityContext.runAsNonRoot must be true")
	}
	if pod == nil || pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		report("pod securityContext.seccompProfile must be RuntimeDefault")
	}
	if spec.AutomountServiceAccountToken == nil && spec.ServiceAccountName == "" {
		report("no serviceAccountName (the default account's token would be mounted)")
	}
	if w.longLived && spec.TerminationGracePeriodSeconds == nil {
		report("terminationGracePeriodSeconds unset (30 s default) for a faust worker")
	}
	for _, c := range spec.Containers {
		where := "container " + c.Name + ": "
		if c.Image == "" {
			report(where + "no image")
		}
		sc := c.SecurityContext
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			report(where + "allowPrivilegeEscalation must be false")
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			report(where + "readOnlyRootFilesystem must be true")
		}
		if sc == nil || sc.Capabilities == nil || !dropsAll(sc.Capabilities.Drop) {
			report(where + "capabilities must drop ALL")
		}
		for _, resource := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			request, hasRequest := c.Resources.Requests[resource]
			limit, hasLimit := c.Resources.Limits[resource]
			if !hasRequest || !hasLimit {
				report(where+"%s request and limit must both be set", resource)
			} else if request.Cmp(limit) > 0 {
				report(where+"%s request %s above its limit %s", resource, request.String(), limit.String())
			}
		}
		if w.longLived {
			for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if probe == nil || probe.HTTPGet == nil {
					report(where+"no HTTP %s probe", name)
				} else if !containerPort(c, probe.HTTPGet.Port.String()) {
					report(where+"%s probe port %s is not declared", name, probe.HTTPGet.Port.String())
				}
			}
		}
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				report(where+"volumeMount %s names no volume", m.Name)
			}
			if mounts[m.MountPath] {
				report(where+"two volumes on %s", m.MountPath)
			}
			mounts[m.MountPath] = true
		}
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef != nil && configMaps[from.ConfigMapRef.Name] == nil && !partial {
				report(where+"envFrom: no ConfigMap %q", from.ConfigMapRef.Name)
			}
			if from.SecretRef != nil && !secrets[from.SecretRef.Name] && !partial {
				report(where+"envFrom: no Secret %q", from.SecretRef.Name)
			}
		}
	}
}

func checkScaledObject(so *kedav1alpha1.ScaledObject, pods []workload, configMaps map[string]*corev1.ConfigMap,
	kafkaKeys map[string]scalerKey, report func(string, ...any)) {
	ref := so.Spec.ScaleTargetRef
	var target *workload
	for i := range pods {
		w := &pods[i]
		if w.owner.name == ref.Name && w.owner.kind == ref.Kind && w.longLived {
			target = w
		}
	}
	if ref.Kind == "" || target == nil {
		report("scaleTargetRef %s/%s names no StatefulSet or Deployment here", ref.Kind, ref.Name)
	}
	if so.Spec.MaxReplicaCount == nil {
		report("maxReplicaCount unset (KEDA's default 100 is far above the partition count)")
	}
	if so.Spec.MinReplicaCount != nil && so.Spec.MaxReplicaCount != nil && *so.Spec.MinReplicaCount > *so.Spec.MaxReplicaCount {
		report("minReplicaCount above maxReplicaCount")
	}
	if len(so.Spec.Triggers) == 0 {
		report("no triggers")
	}
	env := map[string]bool{}
	if target != nil {
		for _, c := range target.template.Spec.Containers {
			for _, e := range c.Env {
				env[e.Name] = true
			}
			for _, from := range c.EnvFrom {
				if from.ConfigMapRef != nil && configMaps[from.ConfigMapRef.Name] != nil {
					for key := range configMaps[from.ConfigMapRef.Name].Data {
						env[key] = true
					}
				}
			}
		}
	}
	for i, trigger := range so.Spec.Triggers {
		where := fmt.Sprintf("trigger %d (%s): ", i, trigger.Type)
		if trigger.Type != "kafka" {
			report(where + "only the kafka scaler is checked here")
			continue
		}
		for key, value := range trigger.Metadata {
			name, fromEnv := strings.CutSuffix(key, "FromEnv")
			spec, known := kafkaKeys[name]
			switch {
			case !known || (fromEnv && !spec.resolvedEnv) || (!fromEnv && !spec.triggerMetadata):
				report(where+"metadata %q is not read by KEDA's kafka scaler", key)
			case fromEnv && target != nil && !env[value]:
				report(where+"%s: the target's containers have no env var %s", key, value)
			case !fromEnv && len(spec.enum) > 0 && !contains(spec.enum, value):
				report(where+"%s=%q is not one of %v", key, value, spec.enum)
			}
		}
		for _, required := range []string{"bootstrapServers", "consumerGroup"} {
			_, plain := trigger.Metadata[required]
			_, fromEnv := trigger.Metadata[required+"FromEnv"]
			if !plain && !fromEnv {
				report(where+"no %s", required)
			}
		}
	}
}

func podsSelectedBy(pods []workload, sel labels.Selector) []workload {
	var out []workload
	for _, w := range pods {
		if w.longLived && sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func declaresPort(spec corev1.PodSpec, port string) bool {
	for _, c := range spec.Containers {
		if containerPort(c, port) {
			return true
		}
	}
	return false
}

func containerPort(c corev1.Container, port string) bool {
	for _, p := range c.Ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return true
		}
	}
	return false
}

func servicePort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func dropsAll(drop []corev1.Capability) bool {
	for _, c := range drop {
		if c == "ALL" {
			return true
		}
	}
	return false
}

func contains(values []string, value string) bool {
	for _, v := range values {
		if v == value {
			return true
		}
	}
	return false
}

// checkNetworkPolicy: the policy selects pods here, its named ports are ports of the pods they
// name (the selected pods for ingress, the destination pods for egress), and each ipBlock's
// exceptions lie inside its CIDR (the API server refuses them otherwise).
func checkNetworkPolicy(np *networkingv1.NetworkPolicy, pods []workload, report func(string, ...any)) {
	selected := selectedPods(pods, &np.Spec.PodSelector, report)
	if len(selected) == 0 {
		report("podSelector selects no pod template")
	}
	namedPortsOf := func(where string, ports []networkingv1.NetworkPolicyPort, targets []workload) {
		for _, port := range ports {
			if port.Port == nil || port.Port.Type != intstr.String { // a named port
				continue
			}
			for _, w := range targets {
				if !declaresPort(w.template.Spec, port.Port.StrVal) {
					report("%s port %q is not a port of %s", where, port.Port.StrVal, w.owner)
				}
			}
		}
	}
	for _, rule := range np.Spec.Ingress {
		namedPortsOf("ingress", rule.Ports, selected)
	}
	for _, rule := range np.Spec.Egress {
		for _, peer := range rule.To {
			if peer.PodSelector != nil && peer.NamespaceSelector == nil {
				targets := selectedPods(pods, peer.PodSelector, report)
				if len(targets) == 0 {
					report("egress podSelector selects no pod template")
				}
				namedPortsOf("egress", rule.Ports, targets)
			}
			if peer.IPBlock != nil {
				cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
				if err != nil {
					report("ipBlock cidr: %v", err)
					continue
				}
				for _, except := range peer.IPBlock.Except {
					inner, err := netip.ParsePrefix(except)
					if err != nil || !cidr.Contains(inner.Addr()) || inner.Bits() < cidr.Bits() {
						report("ipBlock except %s is not inside %s", except, cidr)
					}
				}
			}
		}
	}
}

func selectedPods(pods []workload, selector *metav1.LabelSelector, report func(string, ...any)) []workload {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		report("selector: %v", err)
		return nil
	}
	return podsSelectedBy(pods, sel)
}
