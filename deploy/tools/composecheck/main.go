// Command composecheck loads docker-compose.yml with compose-go, the loader docker compose
// itself uses (compose-spec schema validation, interpolation, merge keys, consistency of
// references), and asserts the structure deploy/README.md promises. No Docker engine needed.
//
//	go run . ../../../docker-compose.yml
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var problems []string

func check(ok bool, format string, args ...any) {
	if !ok {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
}

// load reads the file as `docker compose` would with these profiles enabled. The OS
// environment is left out so the result does not depend on the shell that runs the check.
func load(file string, profiles []string) (*types.Project, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	options, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)), cli.WithProfiles(profiles))
	if err != nil {
		return nil, err
	}
	return options.LoadProject(context.Background())
}

func main() {
	file := "docker-compose.yml"
	if len(os.Args) > 1 {
		file = os.Args[1]
	}
	// What `docker compose up -d` starts, and everything with every profile enabled.
	started, err := load(file, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose: %s: %v\n", file, err)
		os.Exit(1)
	}
	all, err := load(file, []string{"*"})
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose: %s (all profiles): %v\n", file, err)
		os.Exit(1)
	}

	for _, name := range []string{"kafka", "postgres", "redis", "migrate", "consumer", "http"} {
		_, ok := started.Services[name]
		check(ok, "`docker compose up -d` must start service %q", name)
	}
	for _, name := range []string{"memcached", "publisher"} {
		_, inAll := all.Services[name]
		_, inStarted := started.Services[name]
		check(inAll && !inStarted, "service %q must exist under a profile", name)
	}

	// Every service: dependencies exist; servers have a healthcheck.
	oneShot := map[string]bool{"migrate": true, "publisher": true}
	for name, service := range all.Services {
		for target := range service.DependsOn {
			_, ok := all.Services[target]
			check(ok, "%s depends on %q, which is not a service", name, target)
		}
		if !oneShot[name] {
			hc := service.HealthCheck
			check(hc != nil && !hc.Disable && len(hc.Test) > 0, "%s needs a healthcheck", name)
		}
	}

	consumer, http, migrate := all.Services["consumer"], all.Services["http"], all.Services["migrate"]
	check(slices.Equal(consumer.Command, types.ShellCommand{"consume"}), "consumer must run `consume`, runs %v", consumer.Command)
	check(slices.Equal(http.Command, types.ShellCommand{"http"}), "http must run `http`, runs %v", http.Command)
	check(slices.Equal(migrate.Command, types.ShellCommand{"migrate"}), "migrate must run `migrate`, runs %v", migrate.Command)
	// A published port or a fixed container name would stop `--scale consumer=3`.
	check(len(consumer.Ports) == 0, "consumer must publish no port (it is scaled), has %v", consumer.Ports)
	check(consumer.ContainerName == "", "consumer must have no container_name (it is scaled)")
	check(publishes(http, 8080), "http must publish port 8080")
	for _, s := range []types.ServiceConfig{consumer, http} {
		if s.HealthCheck != nil {
			check(strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/readyz"), "%s healthcheck must probe /readyz", s.Name)
		}
	}
	for _, s := range []types.ServiceConfig{consumer, http} {
		dep, ok := s.DependsOn["migrate"]
		check(ok && dep.Condition == types.ServiceConditionCompletedSuccessfully,
			"%s must depend on migrate with condition service_completed_successfully", s.Name)
		// Consumers write the cache and http reads it: both need the same shared one.
		backend := env(s, "ORDER_SERVICE_CACHE_BACKEND")
		check(backend == "redis", "%s: ORDER_SERVICE_CACHE_BACKEND must default to redis, is %q", s.Name, backend)
		for _, key := range []string{"ORDER_SERVICE_DATABASE_URL", "ORDER_SERVICE_REDIS_URL", "ORDER_SERVICE_CACHE_BACKEND"} {
			check(env(s, key) == env(consumer, key), "%s and consumer disagree on %s", s.Name, key)
		}
	}
	check(strings.Contains(env(all.Services["kafka"], "KAFKA_PROCESS_ROLES"), "controller"), "kafka must run in KRaft mode")

	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "compose: %s: %s\n", file, p)
		}
		os.Exit(1)
	}
	var profiled []string
	for name := range all.Services {
		if _, ok := started.Services[name]; !ok {
			profiled = append(profiled, name)
		}
	}
	sort.Strings(profiled)
	fmt.Printf("compose: %s valid; `up -d` starts %s; profiles add %s\n",
		file, strings.Join(started.ServiceNames(), ", "), strings.Join(profiled, ", "))
}

func publishes(s types.ServiceConfig, port uint32) bool {
	for _, p := range s.Ports {
		if p.Target == port && p.Published != "" {
			return true
		}
	}
	return false
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}
