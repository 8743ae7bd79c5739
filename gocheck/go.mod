module k3spki/gocheck

go 1.26
