module gomem/layouts/empty

go 1.19
