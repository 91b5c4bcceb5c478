package main

import (
	"context"
	"errors"
)

var errTODO = errors.New("not built yet")

func runExperiment(ctx context.Context, env *cliEnv, args []string) error { return errTODO }
