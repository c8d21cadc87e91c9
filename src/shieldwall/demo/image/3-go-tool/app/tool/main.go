package main

import "fmt"

func main() { fmt.Println("demo tool") }
