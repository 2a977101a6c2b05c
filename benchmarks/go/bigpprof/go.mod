module workbench.local/bigpprof

go 1.19
