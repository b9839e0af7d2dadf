package main

func h2loadScenario(o options) ([]string, error) { return nil, nil }
