module github.com/lenscore/lenscore

go 1.26.8
