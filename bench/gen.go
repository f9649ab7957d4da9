package main

//go:generate go tool bpf2go -target amd64,arm64 -cc clang-14 -strip llvm-strip-14 -cflags "-mcpu=v3 -Wall -Werror" floor floor.bpf.c
