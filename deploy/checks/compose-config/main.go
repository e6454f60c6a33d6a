// Command compose-config is `docker compose config` without Docker: it loads a Compose file with
// compose-go (the loader Docker Compose itself uses), which validates it against the Compose
// Specification schema, interpolates variables, checks consistency (e.g. depends_on targets)
// and prints the resolved model. Exit status 1 on any error.
//
//	compose-config [-q] [-profile NAME]... [-f docker-compose.yml]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profileList []string

func (p *profileList) String() string     { return strings.Join(*p, ",") }
func (p *profileList) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var profiles profileList
	file := flag.String("f", "docker-compose.yml", "compose file")
	quiet := flag.Bool("q", false, "only validate, print nothing")
	flag.Var(&profiles, "profile", "profile to enable (repeatable)")
	flag.Parse()

	options, err := cli.NewProjectOptions([]string{*file},
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	if *quiet {
		return
	}
	out, err := project.MarshalYAML()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-config:", err)
	os.Exit(1)
}
