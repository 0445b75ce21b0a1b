int iotc_register_tests(void){return 0;}
