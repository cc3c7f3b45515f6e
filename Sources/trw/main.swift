print("trw")
