package proc

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestAliveAndRunning(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if pids := Running(func(exe string) bool { return exe == self }); !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("Running(%s) = %v, without this process", self, pids)
	}
	// A child that exited and was reaped is gone.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if Alive(cmd.Process.Pid) {
		t.Fatalf("process %d is alive after it was reaped", cmd.Process.Pid)
	}
}
