//go:build !dev

package main

import "context"

// startContainer is nil without the dev tag: this build has no container fallback, so
// the binary that serves production links no Docker client. jeton dev then needs a server
// it can reach (noContainerHint says how to get the fallback).
var startContainer func(ctx context.Context) (url string, stop func(), err error)
