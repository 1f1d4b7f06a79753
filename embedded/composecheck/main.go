// Command composecheck loads a docker-compose.yml with compose-go (the library behind
// `docker compose`): schema validation, interpolation, anchors and merges; it prints the
// resolved project as JSON, or the error and exit status 1. No Docker engine is needed.
//
//	go run . -file ../../docker-compose.yml -env-file ../../.env.example -env KEY=VALUE ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	file := flag.String("file", "docker-compose.yml", "compose file to load")
	var envFiles, env listFlag
	flag.Var(&envFiles, "env-file", "dotenv file for interpolation (repeatable)")
	flag.Var(&env, "env", "KEY=VALUE for interpolation (repeatable)")
	flag.Parse()

	abs, err := filepath.Abs(*file)
	if err != nil {
		fail(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithEnv(env),
		cli.WithResolvedPaths(false),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose file invalid:", err)
	os.Exit(1)
}
