package main

import "errors"

const surveyCatalogCopy = "catalog.jsonl"

func mergeSurvey(env *cliEnv, dir string) error { return errors.New("todo") }
