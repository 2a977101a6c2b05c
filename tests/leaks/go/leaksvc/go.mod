module leaksvc

go 1.19
