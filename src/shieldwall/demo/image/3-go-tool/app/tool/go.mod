module example.com/demo/tool

go 1.21

require (
	github.com/gin-gonic/gin v1.7.0
	golang.org/x/text v0.3.7
	gopkg.in/yaml.v2 v2.2.7 // indirect
)
