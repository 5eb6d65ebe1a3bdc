// flagd-eval evaluates one flag of a flagd flags.json with flagd's own Go core
// (github.com/open-feature/flagd/core), for many evaluation contexts.
//
//	flagd-eval FLAGS_JSON FLAG_KEY < contexts.jsonl > results.jsonl
//	flagd-eval --version    # the flagd core module version it was built with
//
// Each input line is a JSON evaluation context (for example {"targetingKey": "user-1"}); each
// output line is {"value": ..., "variant": ..., "reason": ..., "error": ...} for it, in order.
// Ramp's tests use it to check that ramp.flags decides as the flagd daemon and the Go
// in-process provider do.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/open-feature/flagd/core/pkg/evaluator"
	"github.com/open-feature/flagd/core/pkg/logger"
	"github.com/open-feature/flagd/core/pkg/store"
	"github.com/open-feature/flagd/core/pkg/sync"
)

type result struct {
	Value   any    `json:"value"`
	Variant string `json:"variant"`
	Reason  string `json:"reason"`
	Error   string `json:"error,omitempty"`
}

const core = "github.com/open-feature/flagd/core"

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--version" {
		info, _ := debug.ReadBuildInfo()
		for _, dep := range info.Deps {
			if dep.Path == core {
				fmt.Println(dep.Version)
				return
			}
		}
		fmt.Fprintln(os.Stderr, "flagd-eval: built without "+core)
		os.Exit(1)
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: flagd-eval FLAGS_JSON FLAG_KEY < contexts.jsonl")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "flagd-eval: cannot read %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	log := logger.NewLogger(nil, false) // flagd logs each failed bucketing; the result says it
	eval := evaluator.NewJSON(log, store.NewFlags())
	if _, _, err := eval.SetState(sync.DataSync{FlagData: string(data), Source: os.Args[1]}); err != nil {
		fmt.Fprintf(os.Stderr, "flagd-eval: flagd rejects %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for n := 1; in.Scan(); n++ {
		var evalCtx map[string]any
		if err := json.Unmarshal(in.Bytes(), &evalCtx); err != nil {
			fmt.Fprintf(os.Stderr, "flagd-eval: line %d is not a JSON object: %v\n", n, err)
			os.Exit(1)
		}
		v := eval.ResolveAsAnyValue(context.Background(), fmt.Sprint(n), os.Args[2], evalCtx)
		r := result{Value: v.Value, Variant: v.Variant, Reason: v.Reason}
		if v.Error != nil {
			r.Error = v.Error.Error()
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(os.Stderr, "flagd-eval: write: %v\n", err)
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "flagd-eval: read: %v\n", err)
		os.Exit(1)
	}
}
