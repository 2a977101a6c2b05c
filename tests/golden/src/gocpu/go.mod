module workbench.local/gocpu

go 1.19
