// Package kubernetes holds hoist's Kubernetes manifests; its test decodes
// each one strictly into the Kubernetes API types, so that a misspelt field
// fails here rather than being dropped by the API server, and checks what
// the manifests must keep promising.
package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/hoist-dev/hoist/config/serverconfig"
)

// objects are the manifests of this folder, by kind and name.
type objects struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pdbs        map[string]*policyv1.PodDisruptionBudget
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
}

// decodeStrict decodes one YAML document into the API type of its kind;
// unknown fields, duplicate keys and unknown kinds are errors.
func decodeStrict(doc []byte, into *objects) error {
	var head metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("read kind: %w", err)
	}
	switch head.APIVersion + " " + head.Kind {
	case "apps/v1 Deployment":
		return decodeInto(doc, head.Kind, into.deployments)
	case "v1 Service":
		return decodeInto(doc, head.Kind, into.services)
	case "policy/v1 PodDisruptionBudget":
		return decodeInto(doc, head.Kind, into.pdbs)
	case "v1 ConfigMap":
		return decodeInto(doc, head.Kind, into.configMaps)
	case "v1 Secret":
		return decodeInto(doc, head.Kind, into.secrets)
	}
	return fmt.Errorf("apiVersion %q kind %q: not a kind this check knows; add it here", head.APIVersion, head.Kind)
}

// decodeInto decodes doc strictly into a new T and files it by name.
func decodeInto[T any, PT interface {
	*T
	GetName() string
}](doc []byte, kind string, m map[string]PT) error {
	// Kubernetes matches field names case-sensitively (a misspelt
	// "readOnlyRootFileSystem" is an unknown field to the API server), but
	// encoding/json, under sigs.k8s.io/yaml's UnmarshalStrict, does not:
	// hence the API machinery's own decoder, sigs.k8s.io/json.
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	obj := PT(new(T))
	strict, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	if err := errors.Join(strict...); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	name := obj.GetName()
	if name == "" {
		return fmt.Errorf("%s without metadata.name", kind)
	}
	if _, dup := m[name]; dup {
		return fmt.Errorf("%s %q twice", kind, name)
	}
	m[name] = obj
	return nil
}

func newObjects() *objects {
	return &objects{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{},
	}
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// load decodes every *.yaml file of dir, each document on its own.
func load(dir string) (*objects, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", dir)
	}
	objs := newObjects()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			if err := decodeStrict([]byte(doc), objs); err != nil {
				return nil, fmt.Errorf("%s (document %d): %w", filepath.Base(f), i+1, err)
			}
		}
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestManifestsDecodeStrictly(t *testing.T) {
	objs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.deployments) != 1 || len(objs.services) != 1 || len(objs.pdbs) != 1 ||
		len(objs.configMaps) != 1 || len(objs.secrets) != 1 {
		t.Fatalf("want one Deployment, Service, PodDisruptionBudget, ConfigMap and Secret; got %d, %d, %d, %d, %d",
			len(objs.deployments), len(objs.services), len(objs.pdbs), len(objs.configMaps), len(objs.secrets))
	}
}

// A misspelt field anywhere must fail the check, however deep.
func TestTypoFails(t *testing.T) {
	data, err := os.ReadFile("deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{"replicas: 3", "replica: 3", `unknown field "spec.replica"`},
		{"readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "readOnlyRootFileSystem"},
		{"path: /readyz", "pathh: /readyz", "pathh"},
		{"terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: \"60\"", "terminationGracePeriodSeconds"},
	} {
		if !bytes.Contains(data, []byte(c.from)) {
			t.Fatalf("deployment.yaml no longer contains %q; pick another field for this test", c.from)
		}
		bad := bytes.Replace(data, []byte(c.from), []byte(c.to), 1)
		err := decodeStrict(bad, newObjects())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q → %q: want an error naming %q, got %v", c.from, c.to, c.want, err)
		}
	}
	// An unknown kind is not waved through either.
	err = decodeStrict([]byte("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n"), newObjects())
	if err == nil || !strings.Contains(err.Error(), "Deploymnet") {
		t.Errorf("unknown kind: got %v", err)
	}
}

func TestDeploymentEssentials(t *testing.T) {
	objs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	d := objs.deployments["hoist"]
	if d == nil {
		t.Fatal("no Deployment named hoist")
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update must keep every replica until its successor is ready (maxUnavailable 0), got %+v", ru)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]

	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod must run as a non-root uid: %+v", psc)
	}
	csc := c.SecurityContext
	if csc == nil || csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem ||
		csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") {
		t.Errorf("container must have a read-only root, no privilege escalation, no capabilities: %+v", csc)
	}

	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", name, path)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s probe path = %q, want %q", name, p.HTTPGet.Path, path)
		}
		if port := p.HTTPGet.Port.String(); !hasPort(c, port, 8080) {
			t.Errorf("%s probe port %q is not the container's HTTP port", name, port)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")

	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			t.Errorf("no %s request", r)
		}
	}
	if lim, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || lim.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
		t.Errorf("memory limit %v must be set and at least the request", lim.String())
	}

	// Every writable path is a volume, since the root is read-only.
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	for _, p := range []string{"/var/lib/hoist", "/tmp"} {
		m, ok := mounts[p]
		if !ok || vols[m.Name].EmptyDir == nil {
			t.Errorf("%s must be an emptyDir mount", p)
		}
	}

	// The PostgreSQL URL and every secret come from the Secret.
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			s := objs.secrets[ref.SecretKeyRef.Name]
			if s == nil {
				t.Errorf("%s: Secret %q is not among the manifests", e.Name, ref.SecretKeyRef.Name)
			} else if _, ok := s.StringData[ref.SecretKeyRef.Key]; !ok {
				t.Errorf("%s: Secret %q has no key %q", e.Name, s.Name, ref.SecretKeyRef.Key)
			}
		}
	}
	for _, name := range []string{"HOIST_DATABASE_URL", "HOIST_WEBHOOK_SECRET"} {
		if e, ok := env[name]; !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from the Secret", name)
		}
	}

	// The Service and the budget select these pods.
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("the Deployment's selector does not match its pods: %v", err)
	}
	svc := objs.services["hoist"]
	if svc == nil || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service hoist must select the pods")
	} else {
		for _, p := range svc.Spec.Ports {
			if !hasPort(c, p.TargetPort.String(), -1) {
				t.Errorf("Service port %s targets %q, which the container does not expose", p.Name, p.TargetPort.String())
			}
		}
	}
	pdb := objs.pdbs["hoist"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget named hoist")
	}
	psel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil || !psel.Matches(podLabels) {
		t.Errorf("the PodDisruptionBudget does not select the pods: %v", err)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() < 1 || pdb.Spec.MinAvailable.IntValue() >= int(*d.Spec.Replicas) {
		t.Errorf("minAvailable %v must keep a replica up and still let a node drain", pdb.Spec.MinAvailable)
	}
}

// hasPort tells whether the container exposes port (a name or a number);
// number is the container port the name must resolve to, or -1 for any.
func hasPort(c corev1.Container, port string, number int32) bool {
	for _, p := range c.Ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return number < 0 || p.ContainerPort == number
		}
	}
	return false
}

// TestServerConfigLoads runs hoist's own configuration loader on the
// ConfigMap's file with the environment the pod would have: every HOIST_*
// variable the Deployment sets must be one hoist reads, every ${NAME} the
// file uses must be set, and the result must pass hoist's validation.
func TestServerConfigLoads(t *testing.T) {
	objs, err := load(".")
	if err != nil {
		t.Fatal(err)
	}
	d := objs.deployments["hoist"]
	c := d.Spec.Template.Spec.Containers[0]
	pod := d.Spec.Template.Spec

	// Mounted volumes, written where the test can read them.
	root := t.TempDir()
	remap := map[string]string{} // mount path in the pod → folder here
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			dir := filepath.Join(root, v.Name)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			remap[m.MountPath] = dir
			switch {
			case v.ConfigMap != nil:
				cm := objs.configMaps[v.ConfigMap.Name]
				if cm == nil {
					t.Fatalf("volume %s: ConfigMap %q is not among the manifests", v.Name, v.ConfigMap.Name)
				}
				for k, val := range cm.Data {
					writeFile(t, filepath.Join(dir, k), val)
				}
			case v.Secret != nil:
				s := objs.secrets[v.Secret.SecretName]
				if s == nil {
					t.Fatalf("volume %s: Secret %q is not among the manifests", v.Name, v.Secret.SecretName)
				}
				for _, it := range v.Secret.Items {
					val, ok := s.StringData[it.Key]
					if !ok {
						t.Fatalf("volume %s: Secret %q has no key %q", v.Name, s.Name, it.Key)
					}
					writeFile(t, filepath.Join(dir, it.Path), val)
				}
			}
		}
	}
	local := func(p string) string {
		for mount, dir := range remap {
			if p == mount || strings.HasPrefix(p, mount+"/") {
				return dir + strings.TrimPrefix(p, mount)
			}
		}
		return p
	}

	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = objs.secrets[e.ValueFrom.SecretKeyRef.Name].StringData[e.ValueFrom.SecretKeyRef.Key]
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Fatalf("env %s: only values and Secret keys are expected", e.Name)
		}
	}

	// The file named by --config, rewritten so its paths point here.
	cfgPath := ""
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			cfgPath = c.Args[i+1]
		}
	}
	if cfgPath == "" || c.Args[0] != "serve" {
		t.Fatalf("args %q: want serve --config FILE", c.Args)
	}
	data, err := os.ReadFile(local(cfgPath))
	if err != nil {
		t.Fatalf("--config %s is not in a mounted ConfigMap: %v", cfgPath, err)
	}
	// Through placeholders, since the test's folders may themselves lie
	// under a mount path such as /tmp.
	text := string(data)
	mountPaths := make([]string, 0, len(remap))
	for m := range remap {
		mountPaths = append(mountPaths, m)
	}
	sort.Slice(mountPaths, func(i, j int) bool { return len(mountPaths[i]) > len(mountPaths[j]) })
	for i, m := range mountPaths {
		for _, end := range []string{"/", "\n"} {
			text = strings.ReplaceAll(text, m+end, fmt.Sprintf("\x00%d\x00", i)+end)
		}
	}
	for i, m := range mountPaths {
		text = strings.ReplaceAll(text, fmt.Sprintf("\x00%d\x00", i), remap[m])
	}
	local1 := filepath.Join(root, "server.yml")
	writeFile(t, local1, text)

	asked := map[string]bool{}
	cfg, err := serverconfig.LoadServer(local1, func(name string) (string, bool) {
		asked[name] = true
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("hoist does not accept the manifests' configuration: %v", err)
	}
	var unknown []string
	for name := range env {
		if strings.HasPrefix(name, "HOIST_") && !asked[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		t.Errorf("the Deployment sets %v, which hoist's server configuration never reads (misspelt?)", unknown)
	}
	if !strings.HasPrefix(cfg.DatabaseURL, "postgres") {
		t.Errorf("three replicas need PostgreSQL; database_url = %q", cfg.DatabaseURL)
	}
	if cfg.Addr != ":8080" || !hasPort(c, "http", 8080) {
		t.Errorf("addr %q must be the container's http port 8080", cfg.Addr)
	}
	onVolume := false
	for _, dir := range remap {
		onVolume = onVolume || cfg.DataDir == dir || strings.HasPrefix(cfg.DataDir, dir+"/")
	}
	if !onVolume {
		t.Errorf("data_dir %s is not on a mounted volume (the root file system is read-only)", cfg.DataDir)
	}
	if cfg.Smoke.ArtifactsTarget == "" {
		t.Errorf("several replicas need screenshots in shared storage (smoke.artifacts_target)")
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
