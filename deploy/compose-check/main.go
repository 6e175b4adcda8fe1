// compose-check loads a compose file with compose-go, the library `docker compose config` uses,
// so the file is validated (schema, interpolation, depends_on, profiles) without a Docker engine.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	files := os.Args[1:]
	if len(files) == 0 {
		files = []string{"docker-compose.yml"}
	}
	options, err := cli.NewProjectOptions(files,
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithName("mineral-sentinel"),
		cli.WithProfiles([]string{"*"}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compose-check:", err)
		os.Exit(1)
	}
	if len(os.Getenv("COMPOSE_CHECK_PRINT")) > 0 {
		os.Stdout.Write(out)
	}
	fmt.Fprintf(os.Stderr, "compose-check: %s valid, %d services\n", files[0], len(project.Services))
}
