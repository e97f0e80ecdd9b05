module pcframes

go 1.19
