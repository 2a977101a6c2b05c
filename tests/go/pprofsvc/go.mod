module workbench.test/pprofsvc

go 1.19
