package main

func seedScenario(o options) ([]string, error) { return nil, nil }
