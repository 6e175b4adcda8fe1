package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
)

// scalerKey is one parameter KEDA's Kafka scaler reads, from its `keda:"..."` struct tag.
type scalerKey struct {
	triggerMetadata bool // may be set in a trigger's metadata
	resolvedEnv     bool // may be set as <name>FromEnv: an env var of the scale target
	enum            []string
}

const kedaModule = "github.com/kedacore/keda/v2"

var kedaTag = regexp.MustCompile(`keda:"([^"]+)"`)

// loadKafkaScalerKeys reads the parameters of the Kafka scaler from the source of the KEDA
// version this program is built with (the module cache holds it): KEDA's typed trigger config
// is the one definition of them, and a trigger key it does not read is silently ignored.
func loadKafkaScalerKeys() (map[string]scalerKey, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, fmt.Errorf("no build info: cannot tell which KEDA version to read")
	}
	version := ""
	for _, dep := range info.Deps {
		if dep.Path == kedaModule {
			version = dep.Version
		}
	}
	if version == "" {
		return nil, fmt.Errorf("%s is not a dependency of this build", kedaModule)
	}
	modcache := os.Getenv("GOMODCACHE")
	if modcache == "" {
		out, err := exec.Command("go", "env", "GOMODCACHE").Output()
		if err != nil {
			return nil, fmt.Errorf("go env GOMODCACHE: %w", err)
		}
		modcache = strings.TrimSpace(string(out))
	}
	path := filepath.Join(modcache, kedaModule+"@"+version, "pkg", "scalers", "kafka_scaler.go")
	source, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("KEDA's kafka scaler source (run `go mod download` in deploy/k8s-check): %w", err)
	}
	keys := parseKedaTags(string(source))
	for _, expected := range []string{"bootstrapServers", "consumerGroup", "topic", "lagThreshold"} {
		if _, ok := keys[expected]; !ok {
			return nil, fmt.Errorf("%s: no %q parameter found; has KEDA changed how it declares them?", path, expected)
		}
	}
	return keys, nil
}

func parseKedaTags(source string) map[string]scalerKey {
	keys := map[string]scalerKey{}
	for _, match := range kedaTag.FindAllStringSubmatch(source, -1) {
		var name string
		var key scalerKey
		for _, field := range strings.Split(match[1], ",") {
			option, value, _ := strings.Cut(strings.TrimSpace(field), "=")
			switch option {
			case "name":
				name = value
			case "order":
				for _, source := range strings.Split(value, ";") {
					key.triggerMetadata = key.triggerMetadata || source == "triggerMetadata"
					key.resolvedEnv = key.resolvedEnv || source == "resolvedEnv"
				}
			case "enum":
				key.enum = strings.Split(value, ";")
			}
		}
		if name != "" {
			keys[name] = key
		}
	}
	return keys
}
